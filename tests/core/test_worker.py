"""The worker against a fake Twilio server: sends, callbacks, retries, 21610, crash recovery, SKIP LOCKED."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from kaimen_core import db, jobs, messaging, webhooks
from kaimen_core.models import AuditEvent, Customer, Job, Message, WebhookEvent, utcnow
from kaimen_core.providers.sms import TwilioProvider
from kaimen_core.webhook_providers import PROVIDERS
from kaimen_core.worker import Worker
from tests.factories import make_business, rows
from tests.fakes.messaging import PUBLIC_URL, at, customer, store_twilio, texting_business
from tests.fakes.twilio import FakeTwilio

NOW = at("2026-11-27 17:00")


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def worker(fake, monkeypatch):
    from kaimen_core import config

    monkeypatch.setenv("KAIMEN_PUBLIC_URL", PUBLIC_URL)
    config.reset_settings()
    yield Worker(provider=TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.base_url), name="w1")
    monkeypatch.undo()
    config.reset_settings()


def queue(body="Your booking is confirmed"):
    tenant, number = texting_business()
    cid = customer(tenant)
    with db.tenant_session(tenant.owner) as session:
        sent = messaging.send_text(session, actor=tenant.owner, customer_id=cid, body=body, now=NOW)
    return sent.id, number, cid


def message(message_id):
    return rows(Message, Message.id == message_id)[0]


def job():
    return rows(Job, Job.kind == "send_message")[0]


def test_a_queued_text_is_sent_through_the_twilio_sdk_with_a_status_callback(database, fake, worker):
    message_id, number, _ = queue()
    assert worker.run_once(now=NOW) == 1
    (sent,) = fake.sent
    assert (sent["To"], sent["From"], sent["Body"]) == ("+12125550123", number, "Your booking is confirmed")
    assert sent["StatusCallback"] == f"{PUBLIC_URL}/twilio/status?m={message_id}"
    stored = message(message_id)
    assert stored.provider_sid == sent["sid"] and stored.status == "sent"
    assert job().status == "done"


def test_a_provider_error_retries_with_backoff_then_stays_failed_with_the_reason(database, fake, worker):
    message_id, _, _ = queue()
    fake.fail_next(20500, status=500, times=5)
    now = NOW
    for attempt in range(1, 6):
        assert worker.run_once(now=now) == 1
        current = job()
        if attempt < 5:
            assert current.status == "queued" and current.attempts == attempt
            assert current.run_at - now == jobs.backoff(attempt)  # 10 s, 20 s, 40 s ...
            assert message(message_id).status == "queued"
            assert worker.run_once(now=now) == 0  # not due before its backoff
            now = current.run_at
    stored = message(message_id)
    assert (stored.status, stored.error_code) == ("failed", "20500")
    assert stored.error_message == "Unable to create record: error 20500"
    assert job().status == "done" and fake.sent == []
    with db.tenant_session(_owner_of(stored)) as session:
        thread = messaging.get_thread(session, actor=_owner_of(stored), customer_id=stored.customer_id)
    assert thread.messages[-1].error_message == "Unable to create record: error 20500"


def _owner_of(stored):
    from sqlmodel import select

    from kaimen_core import auth
    from kaimen_core.models import User

    with db.system_session() as session:
        user = session.exec(select(User).where(User.business_id == stored.business_id)).first()
        return auth.actor_for(user)


def test_twilio_21610_opts_the_customer_out_and_is_not_retried(database, fake, worker):
    message_id, _, cid = queue()
    fake.fail_next(21610, status=400)
    assert worker.run_once(now=NOW) == 1
    stored = message(message_id)
    assert (stored.status, stored.error_code) == ("failed", "21610")
    assert job().status == "done" and job().attempts == 1
    assert rows(Customer, Customer.id == cid)[0].opted_out_at is not None
    assert worker.run_once(now=NOW + timedelta(hours=1)) == 0


def test_a_worker_killed_after_twilio_accepted_the_text_does_not_send_it_twice(database, fake, worker):
    message_id, _, _ = queue()

    class Killed(BaseException):
        pass

    real_send = worker.provider.send

    def send_then_die(**kwargs):
        real_send(**kwargs)
        raise Killed  # the process dies before it records the provider's answer

    worker.provider.send = send_then_die
    with pytest.raises(Killed):
        worker.run_once(now=NOW)
    assert len(fake.sent) == 1
    assert message(message_id).status == "sending" and job().status == "running"
    worker.provider.send = real_send
    other = Worker(provider=worker.provider, name="w2")
    assert other.run_once(now=NOW + timedelta(minutes=1)) == 0  # still within the first worker's lease
    assert other.run_once(now=NOW + jobs.LEASE + timedelta(seconds=1)) == 1
    assert len(fake.sent) == 1, "the text was sent twice"
    stored = message(message_id)
    assert stored.provider_sid == fake.sent[0]["sid"] and stored.status == "sent"
    assert job().status == "done" and job().attempts == 2


def test_no_customer_number_or_text_reaches_the_logs_when_sending_or_reconciling(database, fake, worker, caplog):
    """The Twilio SDK logs each request (with To and Body) at INFO; Kaimen's processes log at INFO."""
    caplog.set_level(logging.INFO)
    message_id, _, cid = queue(body="See you Tuesday at ten")
    real_send = worker.provider.send

    def send_then_die(**kwargs):
        real_send(**kwargs)
        raise KeyboardInterrupt  # dies before recording the answer: the next run reconciles

    worker.provider.send = send_then_die
    with pytest.raises(KeyboardInterrupt):
        worker.run_once(now=NOW)
    worker.provider.send = real_send
    Worker(provider=worker.provider, name="w2").run_once(now=NOW + jobs.LEASE + timedelta(seconds=1))
    assert message(message_id).status == "sent" and len(fake.sent) == 1
    number = rows(Customer, Customer.id == cid)[0].phone_e164
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert number[-10:] not in logged.replace("%2B", "+").replace(" ", "")
    assert "Tuesday" not in logged


def test_a_worker_killed_before_calling_twilio_sends_on_the_next_run(database, fake, worker):
    message_id, _, _ = queue()

    def die(**_kwargs):
        raise SystemExit

    real_send, worker.provider.send = worker.provider.send, die
    with pytest.raises(SystemExit):
        worker.run_once(now=NOW)
    worker.provider.send = real_send
    assert worker.run_once(now=NOW + jobs.LEASE + timedelta(seconds=1)) == 1
    assert len(fake.sent) == 1 and message(message_id).status == "sent"


def test_a_text_refused_after_queueing_is_not_sent(database, fake, worker):
    message_id, _, cid = queue()
    with db.system_session() as session:
        person = session.get(Customer, cid)
        person.opted_out_at = NOW
        session.add(person)
    worker.run_once(now=NOW)
    assert fake.sent == [] and message(message_id).status == "refused"


def test_a_text_whose_window_closed_before_the_worker_ran_is_held_and_sent_when_it_opens(database, fake, worker):
    tenant, _ = texting_business()
    cid = customer(tenant)
    with db.tenant_session(tenant.owner) as session:  # queued at noon in New York
        queued = messaging.send_text(session, actor=tenant.owner, customer_id=cid, body="See you tomorrow",
                                     kind="transactional", now=NOW)
    assert worker.run_once(now=at("2026-11-28 05:00")) == 1  # the worker runs at midnight there
    held = message(queued.id)
    assert fake.sent == [] and held.status == "held" and held.decision.startswith("held until")
    assert sorted((j.run_at, j.status) for j in rows(Job, Job.kind == "send_message")) == [
        (NOW, "done"), (at("2026-11-28 13:00"), "queued")]
    assert worker.run_once(now=at("2026-11-28 13:00")) == 1
    assert len(fake.sent) == 1 and message(queued.id).status == "sent"


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_two_workers_never_take_the_same_job(database, fake, worker):
    tenant, _ = texting_business()
    cid = customer(tenant)
    with db.tenant_session(tenant.owner) as session:
        for n in range(20):
            messaging.send_text(session, actor=tenant.owner, customer_id=cid, body=f"Text {n}", now=NOW)
    claimed: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def take(index):
        barrier.wait()
        while batch := jobs.claim(worker=f"w{index}", now=NOW + timedelta(seconds=1), limit=3):
            claimed[index].extend(j.id for j in batch)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(claimed[0]) & set(claimed[1])
    assert len(claimed[0]) + len(claimed[1]) == 20


def test_erasure_deletes_twilios_record_of_a_text_and_a_missing_one_counts_as_deleted(database, fake, worker):
    queue()
    worker.run_once(now=NOW)
    (sent,) = fake.sent
    worker.provider.delete_message(sent["sid"])
    worker.provider.delete_message(sent["sid"])  # already gone: no error
    assert fake.deleted == [sent["sid"]] and fake.sent == []


def test_the_worker_schedules_a_daily_retention_purge_and_runs_it(database, fake, worker):
    tenant = make_business()
    old = utcnow() - timedelta(days=400)
    with db.system_session() as session:
        session.add(AuditEvent(business_id=tenant.business_id, actor_label="system", action="test.old",
                               created_at=old))
    worker.schedule_periodic_jobs()
    worker.schedule_periodic_jobs()  # idempotent: still one of each
    assert sorted(j.kind for j in rows(Job, Job.status == "queued")) == ["reminders", "retention", "search_index"]
    while worker.run_once():
        if not rows(Job, Job.kind == "retention", Job.status == "queued", Job.run_at <= utcnow()):
            break
    assert rows(AuditEvent, AuditEvent.action == "test.old") == []
    [purged] = rows(AuditEvent, AuditEvent.action == "retention.purged")
    assert purged.detail["audit_events"] == 1
    [next_run] = rows(Job, Job.kind == "retention", Job.status == "queued")
    assert next_run.run_at > utcnow() + timedelta(hours=23)


def _arrives(number, body, sid, phone="+12125550123"):
    """A text the sidecar has stored and answered, not yet applied."""
    store_twilio(webhooks.VerifiedEvent(
        event_id=sid, kind="sms.inbound", received_at=NOW,
        payload={"MessageSid": sid, "From": phone, "To": number, "Body": body, "NumMedia": "0"}))


def test_a_stop_stored_before_the_worker_runs_wins_over_a_text_queued_earlier(database, fake, worker):
    message_id, number, cid = queue("Your booking is tomorrow")
    _arrives(number, "STOP", "SM" + "5" * 32)
    worker.run_once(now=NOW)  # applies the STOP first, then runs the send jobs
    assert message(message_id).status == "refused"
    assert [sent["Body"] for sent in fake.sent] == [
        rows(Message, Message.direction == "outbound", Message.kind == "system")[0].body]
    assert "unsubscribed" in fake.sent[0]["Body"]
    assert rows(Customer, Customer.id == cid)[0].opted_out_at is not None


def test_the_worker_applies_help_and_sends_its_reply(database, fake, worker):
    _, number = texting_business("Lumen Salon")
    _arrives(number, "help", "SM" + "6" * 32)
    assert worker.run_once(now=NOW) == 2  # the event, then the reply's send job
    (sent,) = fake.sent
    assert sent["To"] == "+12125550123" and sent["Body"].startswith("Lumen Salon: for help call")


def test_a_flood_of_events_does_not_keep_the_worker_from_its_jobs(database, fake, worker):
    _, number = texting_business()
    for n in range(5):
        _arrives(number, f"Text {n}", f"SM{n:032d}")
    assert worker.apply_webhooks(limit=2, rounds=2) == 4  # bounded: the jobs get their turn
    assert worker.apply_webhooks(limit=2, rounds=2) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_delivery_callback_applied_while_the_worker_records_the_send_is_not_overwritten(database, fake, worker):
    """Twilio can call back 'delivered' before the worker has written 'sent': the later write must not win."""
    message_id, _, _ = queue()
    holding, release = threading.Event(), threading.Event()
    send = worker.provider.send

    def deliver_during_the_send(**kwargs):
        result = send(**kwargs)

        def callback():  # the applier's transaction: applied, not yet committed when the worker records
            with db.system_session() as session:
                webhooks.store_events(session, "twilio", [webhooks.VerifiedEvent(
                    event_id=f"{result.sid}:delivered", kind="sms.status",
                    payload={"MessageSid": result.sid, "MessageStatus": "delivered", "_query": f"m={message_id}"})])
                webhooks.apply_events(session, session.exec(select(WebhookEvent)).all(), PROVIDERS, now=utcnow())
                session.flush()
                holding.set()
                release.wait(5)

        threading.Thread(target=callback).start()
        holding.wait(5)
        threading.Timer(0.3, release.set).start()
        return result

    worker.provider.send = deliver_during_the_send
    worker.run_once(now=NOW)
    assert message(message_id).status == "delivered"
