"""The provider-neutral stages: what store keeps and how apply treats an event no provider applies."""

from __future__ import annotations

from kaimen_core import db, webhooks
from kaimen_core.models import WebhookEvent
from tests.factories import rows
from tests.fakes.messaging import apply_webhooks


def test_characters_the_database_cannot_hold_are_stored_replaced(database):
    with db.system_session() as session:
        webhooks.store_events(session, "stripe", [webhooks.VerifiedEvent(
            event_id="evt_\x001", kind="invoice.paid",
            payload={"note": "nul\x00 and lone \ud800 surrogate", "lines": [{"na\x00me": "x\udfff"}]})])
    (event,) = rows(WebhookEvent)
    assert event.event_id == "evt_\ufffd1"
    assert event.payload == {"note": "nul\ufffd and lone \ufffd surrogate", "lines": [{"na\ufffdme": "x\ufffd"}]}


def test_the_same_id_is_stored_once_per_signer(database):
    with db.system_session() as session:
        for signer in ("platform", "business:1", "platform"):
            webhooks.store_events(session, "stripe", [webhooks.VerifiedEvent(
                event_id="evt_1", kind="invoice.paid", payload={}, signer=signer)])
    assert sorted(e.signer for e in rows(WebhookEvent)) == ["business:1", "platform"]


def test_an_event_no_provider_applies_fails_alone_with_the_reason(database):
    with db.system_session() as session:
        webhooks.store_events(session, "stripe", [webhooks.VerifiedEvent(event_id="evt_1", kind="invoice.paid",
                                                                         payload={})])
        webhooks.store_events(session, "twilio", [webhooks.VerifiedEvent(event_id="SM1", kind="sms.inbound",
                                                                         payload={"erased": True})])
    assert apply_webhooks() == 2
    assert {e.event_id: (e.status, e.error) for e in rows(WebhookEvent)} == {
        "evt_1": ("failed", "no applier for stripe events of kind invoice.paid"), "SM1": ("applied", None)}


def test_concurrent_stores_are_each_committed_and_a_bad_event_fails_only_itself(database):
    """The sidecar's group commit: twenty requests at once; one event the database refuses (a business that
    does not exist) fails its own store, and the batch it shared is stored event by event."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def deliver() -> list[BaseException | None]:
        store = webhooks.GroupCommit(lanes=1)
        events = [webhooks.VerifiedEvent(event_id=f"SM{n}", kind="sms.inbound", payload={"Body": f"Text {n}"},
                                         business_id=999_999_999 if n == 7 else None) for n in range(20)]
        first = asyncio.ensure_future(store.store("twilio", events[0]))
        await asyncio.sleep(0.01)  # the first batch is in flight: the others gather behind it
        results = await asyncio.gather(first, *(store.store("twilio", event) for event in events[1:]),
                                       return_exceptions=True)
        await store.aclose()
        return results

    with ThreadPoolExecutor(max_workers=1) as thread:  # a loop of its own, whatever else runs in the test process
        results = thread.submit(asyncio.run, deliver()).result(timeout=60)
    assert [n for n, result in enumerate(results) if result is not None] == [7]
    assert sorted(e.event_id for e in rows(WebhookEvent)) == sorted(f"SM{n}" for n in range(20) if n != 7)
