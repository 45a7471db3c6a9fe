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
