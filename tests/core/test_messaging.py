"""The one send path: every refusal and hold rule, recorded on the message, with a fixed clock."""

from __future__ import annotations

import pytest

from kaimen_core import db, messaging, tenancy
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Business, Customer, Job, Message
from kaimen_core.providers.sms import OutboxProvider
from kaimen_core.worker import Worker
from tests.factories import count, make_operator, make_staff, rows
from tests.fakes.messaging import at, customer, texting_business

NOON_NY = at("2026-11-27 17:00")  # 12:00 in New York, 09:00 in Los Angeles


def send(tenant, customer_id, body="See you soon", kind="manual", now=NOON_NY, actor=None):
    actor = actor or tenant.owner
    with db.tenant_session(actor) as session:
        return messaging.send_text(session, actor=actor, customer_id=customer_id, body=body, kind=kind, now=now)


def test_a_reply_becomes_a_message_and_a_job_and_the_offline_outbox_delivers_it(database):
    tenant, _ = texting_business()
    staff, _ = make_staff(tenant)
    cid = customer(tenant)
    sent = send(tenant, cid, "Your table is ready", actor=staff)
    assert (sent.status, sent.decision) == ("queued", "accepted: queued to send")
    job = rows(Job, Job.kind == "send_message")[0]
    assert job.payload == {"message_id": sent.id} and job.business_id == tenant.business_id
    assert Worker(provider=OutboxProvider()).run_once(now=NOON_NY) == 1
    stored = rows(Message, Message.id == sent.id)[0]
    assert stored.status == "delivered" and stored.provider_sid.startswith("OB")
    with db.tenant_session(tenant.owner) as session:
        thread = messaging.get_thread(session, actor=tenant.owner, customer_id=cid)
    assert [(m.body, m.status) for m in thread.messages] == [("Your table is ready", "delivered")]


def test_inbox_search_takes_percent_and_underscore_literally(database):
    tenant, _ = texting_business()
    plain = customer(tenant, name="Dana Reyes")
    odd = customer(tenant, phone="+12125550124", name="100% Dana")
    for cid in (plain, odd):
        send(tenant, cid, "Your table is ready")
    with db.tenant_session(tenant.owner) as session:
        def found(term):
            return sorted(c.customer_id for c in messaging.list_conversations(session, actor=tenant.owner, search=term))

        assert found("dana") == sorted([plain, odd])
        assert found("0%") == [odd]  # not every number with a 0 in it
        assert found("_") == []


@pytest.mark.parametrize("action, reason", [("suspend", "refused: the business is suspended"),
                                            ("disable_messaging", "refused: messaging is disabled")])
def test_a_suspended_or_disabled_business_sends_nothing(database, action, reason):
    tenant, _ = texting_business()
    cid = customer(tenant)
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=tenant.business_id, action=action,
                        reason="Policy breach")
    with db.system_session() as session:  # the worker and reminders act as the system
        business = session.get(Business, tenant.business_id)
        person = session.get(Customer, cid)
        from kaimen_core.messaging import _send

        message = _send.queue_text(session, business=business, customer=person, body="Reminder", kind="transactional",
                                   now=NOON_NY)
    assert message.status == "refused" and message.decision.startswith(reason)
    assert count(Job) == 0


def test_opted_out_restricted_and_suppressed_customers_are_refused(database):
    tenant, _ = texting_business()
    out = customer(tenant, "+12125550124", opted_out_at=NOON_NY)
    restricted = customer(tenant, "+12125550125", restricted_at=NOON_NY)
    assert send(tenant, out).decision == "refused: the customer opted out (STOP)"
    assert send(tenant, restricted).decision.startswith("refused: the customer asked to restrict")
    # The suppression list outlives the customer's erasure: the same number, a new row, still refused.
    from kaimen_core.messaging import _consent

    with db.system_session() as session:
        _consent.suppress(session, business_id=tenant.business_id, phone="+12125550124", reason="keyword")
        session.delete(session.get(Customer, out))
    again = customer(tenant, "+12125550124", name="Someone New")
    refused = send(tenant, again)
    assert refused.status == "refused" and "suppression list" in refused.decision
    assert count(Job) == 0


def test_marketing_needs_recorded_consent_and_transactional_a_relationship(database):
    tenant, _ = texting_business()
    plain = customer(tenant, "+12125550126")
    consented = customer(tenant, "+12125550127", marketing_consent=True)
    withdrawn = customer(tenant, "+12125550128", transactional_consent=False)
    assert send(tenant, plain, "20% off", kind="marketing").decision == "refused: no recorded marketing consent"
    assert send(tenant, consented, "20% off", kind="marketing").status == "queued"
    assert "no existing relationship" in send(tenant, withdrawn, "Your booking", kind="transactional").decision


@pytest.mark.parametrize("phone, zone, now, expected", [
    # New York number, 02:00 there: held until 08:00 New York (13:00 UTC).
    ("+12125550123", None, "2026-11-27 07:00", "2026-11-27 13:00"),
    # Los Angeles number at 12:00 New York (09:00 LA): inside the window.
    ("+13105550123", None, "2026-11-27 17:00", None),
    # Los Angeles number at 07:00 LA: held until 08:00 LA (16:00 UTC).
    ("+13105550123", None, "2026-11-27 15:00", "2026-11-27 16:00"),
    # A UK mobile at 22:00 London: held until 08:00 London next day.
    ("+447911123456", None, "2026-11-27 22:00", "2026-11-28 08:00"),
    # A number without a zone (555): the customer's zone, Tokyo, 23:00 there -> 08:00 Tokyo (23:00 UTC).
    ("+15555550199", "Asia/Tokyo", "2026-11-27 14:00", "2026-11-27 23:00"),
    # Florida: 20:30 in Miami is after the 20:00 state limit.
    ("+13055550123", None, "2026-11-28 01:30", "2026-11-28 13:00"),
    # New York at 20:30 is still inside 08:00-21:00.
    ("+12125550123", None, "2026-11-28 01:30", None),
    # Oklahoma: 20:15 in Tulsa (Central) is after 20:00.
    ("+19185550123", None, "2026-11-28 02:15", "2026-11-28 14:00"),
])
def test_automated_texts_wait_for_the_recipients_window(database, phone, zone, now, expected):
    tenant, _ = texting_business()
    cid = customer(tenant, phone, time_zone=zone)
    sent = send(tenant, cid, "Reminder: cut tomorrow", kind="transactional", now=at(now))
    if expected is None:
        assert sent.status == "queued"
        return
    assert sent.status == "held" and sent.decision.startswith("held until")
    job = rows(Job, Job.kind == "send_message")[0]
    assert job.run_at == at(expected)
    # A person's direct reply is not held.
    assert send(tenant, cid, "Sure, see you then", now=at(now)).status == "queued"


def test_a_held_text_is_sent_by_the_worker_once_its_window_opens(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    held = send(tenant, cid, "Reminder", kind="transactional", now=at("2026-11-27 07:00"))
    worker = Worker(provider=OutboxProvider())
    assert worker.run_once(now=at("2026-11-27 12:59")) == 0
    assert worker.run_once(now=at("2026-11-27 13:00")) == 1
    assert rows(Message, Message.id == held.id)[0].status == "delivered"


def test_florida_allows_three_marketing_texts_a_day(database):
    tenant, _ = texting_business()
    cid = customer(tenant, "+13055550123", marketing_consent=True)
    results = [send(tenant, cid, f"Offer {n}", kind="marketing") for n in range(4)]
    assert [r.status for r in results] == ["queued", "queued", "queued", "refused"]
    assert results[3].decision == "refused: FL law allows at most 3 marketing texts in 24 hours"


def test_operators_set_the_rate_limit_and_daily_cap(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        messaging.set_limits(session, actor=operator, business_id=tenant.business_id, rate_per_minute=2,
                             daily_cap=3)
    results = [send(tenant, cid, f"Hello {n}") for n in range(3)]
    assert [r.status for r in results] == ["queued", "queued", "held"]
    assert results[2].decision == "held for a minute: rate limit of 2 a minute"
    later = send(tenant, cid, "Hello again", now=at("2026-11-27 17:05"))
    assert later.status == "held" and "daily cap of 3 texts" in later.decision
    with pytest.raises(Exception, match="Only operator"):
        with db.tenant_session(tenant.owner) as session:
            messaging.set_limits(session, actor=tenant.owner, business_id=tenant.business_id, rate_per_minute=99,
                                 daily_cap=99)


def test_content_screening_refuses_prohibited_terms_and_operators_extend_the_list(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    refused = send(tenant, cid, "Win big at our CASINO night!")
    assert refused.status == "refused"
    assert refused.decision == 'refused: contains "casino": gambling content is prohibited by carriers'
    assert send(tenant, cid, "Casual Friday special").status == "queued"  # whole words only
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        messaging.add_screening_term(session, actor=operator, term="Crypto Giveaway", reason="investment scams")
        assert messaging.list_screening_terms(session, actor=operator) == [("crypto giveaway", "investment scams")]
    assert send(tenant, cid, "Our crypto  giveaway starts now").decision == (
        'refused: contains "crypto giveaway": investment scams')


def test_empty_or_overlong_texts_are_refused_with_a_clear_error(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    with pytest.raises(ValidationError, match="Write a message first"):
        send(tenant, cid, "   ")
    with pytest.raises(ValidationError, match="at most 1600"):
        send(tenant, cid, "x" * 1601)
    assert count(Message) == 0


def test_segments_count_gsm7_and_ucs2():
    assert messaging.segments("a" * 160) == messaging.Segments("GSM-7", 160, 1, 160)
    assert messaging.segments("a" * 161).segments == 2
    assert messaging.segments("€" * 80).units == 160  # extension characters count twice
    assert messaging.segments("Hi 😀").encoding == "UCS-2"
    assert messaging.segments("é" * 70).encoding == "GSM-7"
    assert messaging.segments("ć" * 71).segments == 2
