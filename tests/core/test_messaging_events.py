"""Stored webhook events as the worker's queue: applied in batches, exactly once, failures visible.

Faults are injected through the apply stage's public parameter, the providers: Twilio's
declaration with one applier wrapped (failing for one event, for any batch, or dying).
"""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kaimen_core import db, messaging, webhooks
from kaimen_core.models import Conversation, Customer, Message, WebhookEvent
from kaimen_core.webhook_providers import PROVIDERS
from tests.factories import count, rows
from tests.fakes.messaging import apply_webhooks, at, sent_text, store_twilio, texting_business

NOON = at("2026-11-27 17:00")


def store(number, body="Hello", sid="SM1", phone="+12125550123", when=NOON):
    """A text as the sidecar stores it (received, not applied)."""
    params = {"MessageSid": sid, "From": phone, "To": number, "Body": body, "NumMedia": "0"}
    store_twilio(webhooks.VerifiedEvent(event_id=sid, kind="sms.inbound", payload=params, received_at=when))


def drain(**kwargs) -> int:
    taken = 0
    while n := apply_webhooks(**kwargs):
        taken += n
    return taken


def twilio_with(kind: str, applier) -> list[webhooks.Provider]:
    """The providers, with Twilio's applier for ``kind`` replaced."""
    twilio = messaging.TWILIO_WEBHOOKS
    return [dataclasses.replace(twilio, appliers={**twilio.appliers, kind: applier})]


def batches_refused(applier):
    """``applier``, refusing any batch of more than one event: the apply stage then gives it one at a time."""
    def alone(session, events, *, now):
        if len(events) > 1:
            raise ValueError("set-based step failed")
        return applier(session, events, now=now)

    return alone


def event(sid):
    return rows(WebhookEvent, WebhookEvent.event_id == sid)[0]


def test_a_crash_between_storing_and_applying_loses_nothing(database):
    _, number = texting_business()
    store(number, sid="SM1")
    store(number, "STOP", sid="SM2")

    class Crash(BaseException):
        """The worker process dies mid-batch."""

    def die(session, events, *, now):
        messaging.apply_inbound_texts(session, events, now=now)
        raise Crash

    with pytest.raises(Crash):
        webhooks.apply_received_events(twilio_with("sms.inbound", die))
    assert count(Message) == 0 and count(Customer) == 0  # the texts applied before the crash rolled back
    assert [event(sid).status for sid in ("SM1", "SM2")] == ["received", "received"]
    assert drain() == 2
    assert [event(sid).status for sid in ("SM1", "SM2")] == ["applied", "applied"]
    assert count(Message, Message.direction == "inbound") == 2
    assert rows(Customer)[0].opted_out_at is not None


def test_a_failed_event_is_recorded_with_its_reason_and_does_not_block_the_queue(database):
    _, number = texting_business()
    store(number, "HELP", sid="SM1", phone="+12125550199")
    store(number, "Hello", sid="SM2")

    def broken_help(session, events, *, now):
        outcomes = messaging.apply_inbound_texts(session, events, now=now)
        for event in events:
            if event.payload["Body"] == "HELP":  # its reply cannot be written
                raise RuntimeError(f"template missing for {event.payload['From']}")
        return outcomes

    assert webhooks.apply_received_events(twilio_with("sms.inbound", broken_help)) == 2
    failed, applied = event("SM1"), event("SM2")
    assert (failed.status, failed.error) == ("failed", "RuntimeError: template missing for <number>")
    assert applied.status == "applied"
    # The failed event left nothing behind; the other one is a message.
    assert [m.provider_sid for m in rows(Message)] == ["SM2"]
    assert drain() == 0  # failed events are not retried on their own; an operator replays them


def test_texts_and_keywords_in_one_batch_apply_in_the_order_they_arrived(database):
    tenant, number = texting_business()
    for n, body in enumerate(["Hi", "STOP", "still there?", "START", "Thanks"]):
        store(number, body, sid=f"SM{n}", when=at(f"2026-11-27 17:0{n}"))
    assert apply_webhooks(now=at("2026-11-27 17:10")) == 5
    (person,) = rows(Customer, Customer.business_id == tenant.business_id)
    assert person.opted_out_at is None  # STOP, then START
    assert count(Message, Message.direction == "inbound") == 5
    replies = sorted(rows(Message, Message.direction == "outbound"), key=lambda m: m.id)
    assert ["unsubscribed" in replies[0].body, "resubscribed" in replies[1].body] == [True, True]
    (conversation,) = rows(Conversation)  # moved to the replies, written when applied
    assert conversation.last_message_at == at("2026-11-27 17:10")


def test_applying_the_same_event_again_changes_nothing(database):
    _, number = texting_business()
    store(number, "STOP", sid="SM1")
    store(number, "Hello", sid="SM2")
    assert drain() == 2
    with db.system_session() as session:
        session.execute(text("UPDATE webhook_events SET status = 'received'"))
    assert drain() == 2
    assert count(Message, Message.direction == "inbound") == 2
    assert count(Message, Message.direction == "outbound") == 1  # one opt-out confirmation
    assert [event(sid).status for sid in ("SM1", "SM2")] == ["applied", "applied"]


def test_when_the_set_based_step_fails_its_texts_are_applied_one_by_one(database):
    _, number = texting_business()
    for n in range(3):
        store(number, f"Text {n}", sid=f"SM{n}", phone=f"+1212555010{n}")
    providers = twilio_with("sms.inbound", batches_refused(messaging.apply_inbound_texts))
    assert webhooks.apply_received_events(providers) == 3
    assert sorted(m.provider_sid for m in rows(Message)) == ["SM0", "SM1", "SM2"]
    assert count(Customer) == 3


def test_an_erased_event_is_applied_as_nothing(database):
    texting_business()
    store_twilio(webhooks.VerifiedEvent(event_id="SM1", kind="sms.inbound", payload={"erased": True}))
    assert drain() == 1
    assert event("SM1").status == "applied" and count(Message) == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_an_applier_skips_the_events_another_applier_holds(database):
    _, number = texting_business()
    for n in range(3):
        store(number, f"Text {n}", sid=f"SM{n}")
    with db.system_session() as holder:  # another applier's transaction, still open
        holder.execute(text("SELECT id FROM webhook_events WHERE event_id = 'SM0' FOR UPDATE"))
        assert apply_webhooks() == 2
    assert event("SM0").status == "received"
    assert apply_webhooks() == 1
    assert count(Message) == 3


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_appliers_never_apply_the_same_event(database):
    _, number = texting_business()
    store_twilio(*(
        webhooks.VerifiedEvent(event_id=f"SM{n}", kind="sms.inbound", received_at=NOON,
                               payload={"MessageSid": f"SM{n}", "From": f"+1212555{n % 7:04d}", "To": number,
                                        "Body": "STOP" if n % 10 == 3 else f"Text {n}"})
        for n in range(120)))
    taken = [0, 0]
    barrier = threading.Barrier(2)

    def applier(index):
        barrier.wait()
        while True:
            try:
                n = apply_webhooks(limit=7)
            except OperationalError:  # a deadlock between the two: that batch rolled back whole; run it again
                continue
            if not n:
                return
            taken[index] += n

    threads = [threading.Thread(target=applier, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(taken) == 120  # each event taken exactly once between them
    assert count(WebhookEvent, WebhookEvent.status == "applied") == 120
    assert count(Message, Message.direction == "inbound") == 120


# --- operators: listing and replaying stored events -------------------------------------


def test_operators_page_through_events_newest_first_and_each_access_is_audited(database):
    from kaimen_core.models import AuditEvent
    from tests.factories import make_operator

    _, number = texting_business()
    for n in range(3):
        store(number, f"Text {n}", sid=f"SM{n}", when=at(f"2026-11-27 17:0{n}"))
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        first = webhooks.list_webhook_events(session, actor=operator, providers=PROVIDERS, page_size=2)
        second = webhooks.list_webhook_events(session, actor=operator, providers=PROVIDERS, page=2, page_size=2,
                                              business_id=None, status="received", provider="twilio")
    assert [r.event_id for r in first.rows] == ["SM2", "SM1"] and (first.total, first.pages) == (3, 2)
    assert [r.event_id for r in second.rows] == ["SM0"]
    assert first.rows[0].payload["From"] == "+1******0123" and first.rows[0].payload["Body"] == "[6 characters]"
    assert count(AuditEvent, AuditEvent.action == "operator.access", AuditEvent.target_type == "webhook_events") == 1


def test_only_operators_list_or_replay_events(database):
    from kaimen_core.exceptions import PermissionDenied
    from tests.factories import make_staff

    tenant, number = texting_business()
    store(number, sid="SM1")
    staff, _ = make_staff(tenant)
    for actor in (tenant.owner, staff):
        with pytest.raises(PermissionDenied), db.tenant_session(actor) as session:
            webhooks.list_webhook_events(session, actor=actor, providers=PROVIDERS)
        with pytest.raises(PermissionDenied), db.tenant_session(actor) as session:
            webhooks.replay_webhook_events(session, actor=actor, event_ids=[event("SM1").id], reason="incident")
    assert event("SM1").status == "received"


def test_a_replay_is_audited_per_event_and_refuses_unknown_ids_and_reasons(database):
    from kaimen_core.exceptions import NotFound, ValidationError
    from kaimen_core.models import AuditEvent
    from tests.factories import make_operator

    tenant, number = texting_business()
    store(number, sid="SM1")
    drain()
    operator, _ = make_operator()
    with pytest.raises(NotFound), db.tenant_session(operator) as session:
        webhooks.replay_webhook_events(session, actor=operator, event_ids=[event("SM1").id, 999_999],
                                       reason="incident")
    with pytest.raises(ValidationError), db.tenant_session(operator) as session:
        webhooks.replay_webhook_events(session, actor=operator, event_ids=[event("SM1").id], reason="just because")
    assert event("SM1").status == "applied"
    with db.tenant_session(operator) as session:
        assert webhooks.replay_webhook_events(session, actor=operator, event_ids=[event("SM1").id],
                                              reason="incident") == 1
    (audited,) = rows(AuditEvent, AuditEvent.action == "webhook.replayed")
    assert (audited.business_id, audited.actor_user_id, audited.detail["reason"]) == (
        tenant.business_id, operator.user_id, "incident")
    assert drain() == 1 and count(Message) == 1  # applied again, harmlessly


def _callback(sid, status, message_id=None, **extra):
    payload = {"MessageSid": sid, "MessageStatus": status, **extra}
    if message_id:
        payload["_query"] = f"m={message_id}"
    store_twilio(webhooks.VerifiedEvent(event_id=f"{sid}:{status}", kind="sms.status", payload=payload,
                                        received_at=NOON))


@pytest.mark.parametrize("together", [True, False], ids=["set-based", "one-by-one"])
def test_callbacks_of_every_kind_in_one_batch(database, together):
    applier = messaging.apply_status_callbacks if together else batches_refused(messaging.apply_status_callbacks)
    tenant, _ = texting_business()
    a = sent_text(tenant, "SMa", "+12125550101")
    b = sent_text(tenant, "SMb", "+12125550102")
    c = sent_text(tenant, None, "+12125550103")
    _callback("SMa", "delivered")
    _callback("SMa", "sent")  # late: never moves it back
    _callback("SMb", "undelivered", ErrorCode="21610")
    _callback("SMc", "delivered", message_id=c)  # the worker never heard back: linked by the message's id
    _callback("SMzz", "delivered")  # a text Kaimen does not know
    assert webhooks.apply_received_events(twilio_with("sms.status", applier)) == 5
    stored = {m.id: m for m in rows(Message)}
    assert stored[a].status == "delivered"
    assert (stored[b].status, stored[b].error_code) == ("undelivered", "21610")
    assert (stored[c].status, stored[c].provider_sid) == ("delivered", "SMc")
    assert rows(Customer, Customer.id == stored[b].customer_id)[0].opted_out_at is not None
    assert {e.event_id: (e.status, e.business_id) for e in rows(WebhookEvent)} == {
        "SMa:delivered": ("applied", tenant.business_id), "SMa:sent": ("applied", tenant.business_id),
        "SMb:undelivered": ("applied", tenant.business_id), "SMc:delivered": ("applied", tenant.business_id),
        "SMzz:delivered": ("applied", None)}
