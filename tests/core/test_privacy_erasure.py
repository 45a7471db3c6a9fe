"""Erasure: every trace of the person gone, verified by a scan of the whole schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kaimen_core import auth, db, messaging, privacy, webhooks
from kaimen_core.actors import Origin
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import (
    AuditEvent,
    Booking,
    ConsentEvent,
    Customer,
    EnforcementAction,
    Job,
    Message,
    PrivacyRequest,
    StaffMember,
    SuppressionEntry,
    WebhookEvent,
)
from kaimen_core.privacy import ErasureFailed, ProviderErasers
from tests.factories import PASSWORD, count, make_business, make_operator, rows
from tests.fakes.messaging import apply_webhooks, store_twilio, texting_business
from tests.fakes.messaging import customer as make_customer

NAME, PHONE, EMAIL = "Maria Lopez", "+12125550199", "maria.lopez@example.com"


class FakeProviders:
    """Records what the erasure asked the providers to delete; can fail once on demand."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.deleted: list[str] = []
        self.fail_on = fail_on

    def delete(self, ref: str) -> None:
        if ref == self.fail_on:
            self.fail_on = None
            raise ConnectionError("provider down")
        self.deleted.append(ref)

    @property
    def erasers(self) -> ProviderErasers:
        return ProviderErasers(delete_message=self.delete, delete_media=self.delete, message_service="fake")


def _seed(tenant, *, name=NAME, phone=PHONE, email=EMAIL, opted_out=True) -> dict[str, int]:
    """The person's data in every table that can hold it, plus a neighbour's."""
    b = tenant.business_id
    now = datetime.now(UTC)
    with db.system_session() as session:
        person = Customer(business_id=b, name=name, phone_e164=phone, email=email, notes=f"{name} likes tea",
                          opted_out_at=now if opted_out else None)
        neighbour = Customer(business_id=b, name="Ava Chen", phone_e164="+12125550123", email="ava@example.com")
        staff = StaffMember(business_id=b, name="Sam Rivera")
        session.add_all([person, neighbour, staff])
        session.flush()
        session.add_all([
            ConsentEvent(business_id=b, customer_id=person.id, kind="opt_out", granted=False, method="keyword",
                         wording=f"STOP from {phone}"),
            Message(business_id=b, customer_id=person.id, direction="inbound", status="received",
                    body=f"Hi it's {name}, call me on (212) 555-0199", provider_sid=f"SMperson1b{b}",
                    media=[{"ref": "local:mms/abc.jpg", "content_type": "image/jpeg"}]),
            Booking(business_id=b, customer_id=person.id, staff_id=staff.id, notes=f"{email} prefers mornings",
                    start_at=now - timedelta(days=3), end_at=now - timedelta(days=3, minutes=-45), status="completed"),
            WebhookEvent(provider="twilio", event_id=f"SMperson1b{b}", business_id=b, kind="sms.inbound",
                         payload={"From": phone, "Body": f"Hi it's {name}"}),
            WebhookEvent(provider="twilio", event_id=f"SMperson2b{b}:delivered", business_id=b, kind="sms.status",
                         payload={"To": phone, "MessageStatus": "delivered"}),
        ])
        session.flush()
        mine = Message(business_id=b, customer_id=person.id, direction="outbound", status="queued",
                       body="See you Tuesday!", provider_sid=f"SMperson2b{b}")
        theirs = Message(business_id=b, customer_id=neighbour.id, direction="outbound", status="queued",
                         body="Ava, see you soon", provider_sid=f"SMneighbourb{b}")
        session.add_all([mine, theirs])
        session.flush()
        session.add_all([Job(business_id=b, kind="send_message", payload={"message_id": mine.id}),
                         Job(business_id=b, kind="send_message", payload={"message_id": theirs.id})])
        return {"person": person.id, "neighbour": neighbour.id, "staff": staff.id}


def _deleted(tenant) -> list[str]:
    b = tenant.business_id
    return sorted([f"SMperson1b{b}", f"SMperson2b{b}", "local:mms/abc.jpg"])


def _deletion_request(tenant, *, verify=True) -> int:
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="gdpr",
                                      channel="text message", requester_name=NAME, requester_contact=PHONE,
                                      phone="212-555-0199")
        if verify:
            privacy.verify_identity(session, actor=tenant.owner, request_id=view.id,
                                    method="Texted a code to the number on file")
    return view.id


def _everything_scanned(tenant) -> list:
    with db.system_session() as session:
        return privacy.scan(session, business_id=tenant.business_id,
                            needles=privacy.needles_for(name=NAME, phone_e164=PHONE, email=EMAIL, region="US"))


def test_erasure_leaves_no_trace_in_any_table_and_issues_a_certificate(database):
    tenant = make_business()
    ids = _seed(tenant)
    request_id = _deletion_request(tenant)
    assert {f.table for f in _everything_scanned(tenant)} >= {"customers", "messages", "bookings",
                                                              "webhook_events", "consent_events",
                                                              "privacy_requests"}
    providers = FakeProviders()

    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)

    assert result.status == "completed"
    assert list(result.steps_done) == list(privacy.STEPS)
    assert _everything_scanned(tenant) == []
    assert sorted(providers.deleted) == _deleted(tenant)
    assert count(Customer, Customer.id == ids["person"]) == 0
    assert count(Message, Message.customer_id == ids["neighbour"]) == 1  # the neighbour is untouched
    assert count(Job) == 1
    booking = rows(Booking, Booking.staff_id == ids["staff"])[0]
    assert booking.customer_id is None and booking.notes is None  # kept for the business's records
    assert [e.payload for e in rows(WebhookEvent)] == [{"erased": True}] * 2  # kept for idempotency, emptied
    assert count(SuppressionEntry, SuppressionEntry.phone_hash == privacy.phone_hash(tenant.business_id, PHONE)) == 1
    record = rows(PrivacyRequest, PrivacyRequest.id == request_id)[0]
    assert record.requester_name is None and record.requester_contact is None and record.customer_id is None
    assert record.subject_ref == f"customer #{ids['person']}" and record.received_at is not None
    assert "subject" not in record.checkpoint
    certificate = result.certificate
    assert certificate["removed"]["database"]["messages"] == 2
    assert certificate["removed"]["database"]["jobs"] == 1
    assert certificate["removed"]["database"]["webhook_payloads_cleared"] == 2
    assert certificate["removed"]["database"]["bookings_detached"] == 1
    assert certificate["removed"]["providers"] == {"service": "fake", "message_records": 2, "media": 1}
    assert certificate["verification"]["hits"] == 0
    assert certificate["run_by"] == f"owner:{tenant.username}"
    steps = [e.action for e in rows(AuditEvent, AuditEvent.action.startswith("privacy.erasure"))]
    assert steps == [f"privacy.erasure.{s}" for s in privacy.STEPS]


def test_running_it_again_is_harmless(database):
    tenant = make_business()
    _seed(tenant)
    request_id = _deletion_request(tenant)
    providers = FakeProviders()
    first = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)
    again = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)
    assert again.status == "completed" and again.certificate == first.certificate
    assert len(providers.deleted) == 3


def test_a_crash_between_steps_resumes_where_it_stopped(database):
    tenant = make_business()
    _seed(tenant)
    request_id = _deletion_request(tenant)
    providers = FakeProviders()
    stopped = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers,
                                  stop_after="database")
    assert stopped.status == "in_progress" and stopped.steps_done == ["prepare", "database"]
    assert providers.deleted == []

    resumed = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)
    assert resumed.status == "completed"
    assert sorted(providers.deleted) == _deleted(tenant)
    assert _everything_scanned(tenant) == []


def test_a_provider_failure_keeps_progress_and_a_rerun_finishes_without_repeating(database):
    tenant = make_business()
    _seed(tenant)
    request_id = _deletion_request(tenant)
    providers = FakeProviders(fail_on=f"SMperson2b{tenant.business_id}")
    with pytest.raises(ErasureFailed, match="did not confirm a deletion"):
        privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)
    assert providers.deleted == [f"SMperson1b{tenant.business_id}"]
    assert rows(PrivacyRequest, PrivacyRequest.id == request_id)[0].status == "in_progress"

    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)
    assert result.status == "completed"
    assert sorted(providers.deleted) == _deleted(tenant)


def test_a_trace_the_pipeline_does_not_know_stops_the_request_with_the_findings(database):
    tenant = make_business()
    _seed(tenant)
    with db.system_session() as session:
        session.add(EnforcementAction(business_id=tenant.business_id, action="warn",
                                      reason=f"Complaint forwarded by {EMAIL}"))
    request_id = _deletion_request(tenant)
    with pytest.raises(ErasureFailed, match=r"enforcement_actions\.reason \(email\)"):
        privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=FakeProviders().erasers)
    record = rows(PrivacyRequest, PrivacyRequest.id == request_id)[0]
    assert record.status == "in_progress"
    assert record.checkpoint["verification"]["findings"] == [
        {"table": "enforcement_actions", "column": "reason", "row": str(rows(EnforcementAction)[0].id),
         "matched": "email"}]


def test_names_match_whole_words_only(database):
    tenant = make_business()
    with db.system_session() as session:
        session.add(Customer(business_id=tenant.business_id, name="Sal", phone_e164="+12125550150"))
    with db.system_session() as session:
        found = privacy.scan(session, business_id=tenant.business_id,
                             needles=privacy.needles_for(name="Al", phone_e164=None, email=None, region="US"))
    assert found == []  # "Al" inside "Sal" (or "Salon" in a business name) is not the person


def test_an_unverified_request_cannot_be_erased(database):
    tenant = make_business()
    _seed(tenant)
    request_id = _deletion_request(tenant, verify=False)
    with pytest.raises(ValidationError, match="Verify the person's identity before erasing"):
        privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=FakeProviders().erasers)
    assert count(Customer, Customer.name == NAME) == 1


def test_operators_run_erasures_for_any_business_and_are_audited(database):
    tenant = make_business()
    _seed(tenant)
    request_id = _deletion_request(tenant)
    operator, _ = make_operator()
    result = privacy.run_erasure(actor=operator, request_id=request_id, erasers=FakeProviders().erasers)
    assert result.status == "completed"
    assert result.certificate["run_by"].startswith("operator:")
    assert count(AuditEvent, AuditEvent.action == "operator.access") >= 1


def test_another_business_is_untouched(database):
    a, b = make_business(), make_business()
    _seed(a)
    theirs = _seed(b)
    request_id = _deletion_request(a)
    privacy.run_erasure(actor=a.owner, request_id=request_id, erasers=FakeProviders().erasers)
    assert count(Customer, Customer.id == theirs["person"]) == 1
    assert len(_everything_scanned(b)) > 0


def test_an_opt_out_outlives_the_erasure_of_the_customer(database):
    tenant, _ = texting_business()
    make_customer(tenant, phone=PHONE, name=NAME)
    with db.tenant_session(tenant.owner) as session:
        messaging.simulate_incoming(session, actor=tenant.owner, phone=PHONE, body="STOP")
    request_id = _deletion_request(tenant)
    assert privacy.run_erasure(actor=tenant.owner, request_id=request_id,
                               erasers=FakeProviders().erasers).status == "completed"
    assert count(Customer, Customer.phone_e164 == PHONE) == 0

    with db.tenant_session(tenant.owner) as session:  # the same number writes again later
        messaging.simulate_incoming(session, actor=tenant.owner, phone=PHONE, body="Hello, are you open Sunday?")
    [again] = rows(Customer, Customer.phone_e164 == PHONE)
    with db.tenant_session(tenant.owner) as session:
        reply = messaging.send_text(session, actor=tenant.owner, customer_id=again.id, body="Yes, 10 to 4!")
    assert reply.status == "refused"
    assert "opted out" in (reply.decision or "").lower() or "suppress" in (reply.decision or "").lower()


def test_a_text_stored_but_not_yet_applied_is_erased_and_never_brings_the_person_back(database):
    tenant, number = texting_business()
    _seed(tenant)
    waiting = {"MessageSid": "SMwaiting1", "From": PHONE, "To": number, "Body": f"It's {NAME} again",
               "NumMedia": "0"}
    store_twilio(webhooks.VerifiedEvent(event_id="SMwaiting1", kind="sms.inbound", payload=waiting,
                                        received_at=datetime.now(UTC)))
    request_id = _deletion_request(tenant)
    providers = FakeProviders()

    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=providers.erasers)

    assert result.status == "completed"
    assert "SMwaiting1" in providers.deleted  # the person's text is a record at Twilio too
    assert rows(WebhookEvent, WebhookEvent.event_id == "SMwaiting1")[0].payload == {"erased": True}
    while apply_webhooks():  # the worker comes round afterwards
        pass
    assert count(Customer, Customer.phone_e164 == PHONE) == 0
    assert _everything_scanned(tenant) == []


def test_a_business_with_its_own_twilio_account_has_the_persons_texts_deleted_there(database, monkeypatch):
    from kaimen_core import config
    from kaimen_core.providers.sms import TwilioProvider
    from kaimen_core.worker import Worker
    from tests.fakes.twilio import FakeTwilio

    account, token = "AC" + "5678abcd" * 4, "1e" * 14 + "c0de"
    with FakeTwilio() as fake:
        monkeypatch.setenv("KAIMEN_TWILIO_API_BASE", fake.base_url)
        config.reset_settings()
        fake.add_account(account, token)
        tenant, _ = texting_business()
        with db.tenant_session(tenant.owner) as session:
            messaging.set_twilio_account(session, actor=tenant.owner, account_sid=account, auth_token=token)
        person = make_customer(tenant, phone=PHONE, name=NAME)
        with db.tenant_session(tenant.owner) as session:
            messaging.send_text(session, actor=tenant.owner, customer_id=person, body="See you Friday",
                                now=datetime(2026, 11, 27, 17, tzinfo=UTC))
        platform = TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.base_url)
        Worker(provider=platform, name="w").run_once(now=datetime(2026, 11, 27, 17, tzinfo=UTC))
        (sent,) = fake.sent
        assert sent["account_sid"] == account

        result = privacy.run_erasure(actor=tenant.owner, request_id=_deletion_request(tenant))

        assert result.status == "completed"
        assert fake.deleted == [sent["sid"]] and fake.sent == []  # deleted in the account that holds it
        assert "own account" in result.certificate["removed"]["providers"]["service"]
    config.reset_settings()


# --- what the verification reads: the business's data, never the platform's ---------------


def _only_in_a_platform_table(place: str) -> str:
    """Text that only a platform table holds: another owner's IP address in the sign-in attempts, or a
    prohibited term operators added."""
    if place == "login_attempts":
        rival = make_business()
        auth.sign_in(username=rival.username, password=PASSWORD, origin=Origin(ip_address="203.0.113.7"))
        return "203.0.113.7"
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        messaging.add_screening_term(session, actor=operator, term="quick cash loans", reason="Lending offers")
    return "quick cash loans"


@pytest.mark.parametrize("place", ["login_attempts", "screening_terms"])
def test_a_customer_named_after_platform_data_is_erased_and_the_business_learns_nothing_of_it(database, place):
    name = _only_in_a_platform_table(place)
    tenant = make_business()
    _seed(tenant, name=name)
    request_id = _deletion_request(tenant)

    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=FakeProviders().erasers)

    assert result.status == "completed" and result.findings == []
    record = rows(PrivacyRequest, PrivacyRequest.id == request_id)[0]
    assert place not in repr(record.checkpoint) + repr(record.certificate)
    with db.system_session() as session:  # the platform table is not read at all, for the business
        found = privacy.scan(session, business_id=tenant.business_id,
                             needles=privacy.needles_for(name=name, phone_e164=None, email=None, region="US"))
    assert found == []


def test_the_verification_reads_the_events_of_the_business_s_number_that_no_business_owns_yet(database):
    tenant, number = texting_business()
    rival, rival_number = texting_business()
    waiting = {"MessageSid": "SMwaiting2", "From": PHONE, "To": number, "Body": "Hello", "NumMedia": "0"}
    store_twilio(
        webhooks.VerifiedEvent(event_id="SMwaiting2", kind="sms.inbound", payload=waiting),
        # signed by the rival's own Twilio account for this business's number: the rival's, refused when applied
        webhooks.VerifiedEvent(event_id="SMforged1", kind="sms.inbound", signer=f"business:{rival.business_id}",
                               payload={**waiting, "MessageSid": "SMforged1"}),
        webhooks.VerifiedEvent(event_id="SMelsewhere1", kind="sms.inbound",
                               payload={**waiting, "MessageSid": "SMelsewhere1", "To": rival_number}),
    )
    needles = privacy.needles_for(name=None, phone_e164=PHONE, email=None, region="US")
    with db.system_session() as session:
        found = privacy.scan(session, business_id=tenant.business_id, needles=needles)
        together = privacy.scan_many(session, business_id=tenant.business_id, people={"p": needles})["p"]
    [waiting_row] = rows(WebhookEvent, WebhookEvent.event_id == "SMwaiting2")
    assert found == together == [privacy.Finding("webhook_events", "payload", str(waiting_row.id), "phone",
                                                  platform=True)]


def test_a_trace_in_platform_records_of_the_business_never_stops_its_request_and_operators_are_told(database):
    tenant, number = texting_business()
    _seed(tenant)
    # Someone else's text to the business, not applied yet, mentions the person by name.
    other = {"MessageSid": "SMother1", "From": "+12125550111", "To": number, "Body": f"Tell {NAME} I'm late",
             "NumMedia": "0"}
    store_twilio(webhooks.VerifiedEvent(event_id="SMother1", kind="sms.inbound", payload=other))
    request_id = _deletion_request(tenant)

    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=FakeProviders().erasers)

    assert result.status == "completed" and result.findings == []
    assert result.certificate["verification"]["hits"] == 0
    [told] = rows(AuditEvent, AuditEvent.action == "privacy.erasure.platform_traces")
    [event] = rows(WebhookEvent, WebhookEvent.event_id == "SMother1")
    assert told.business_id is None  # the operators' log, not the business's
    assert (told.target_type, told.target_id) == ("privacy_request", str(request_id))
    assert told.detail == {"business_id": tenant.business_id, "hits": 1, "places": "webhook_events.payload",
                           "rows": str(event.id)}
    assert NAME not in repr(told.model_dump())


def test_a_status_callback_for_a_text_to_the_person_that_kaimen_does_not_know_is_erased_too(database):
    tenant, number = texting_business()
    _seed(tenant)
    callback = {"MessageSid": "SMunknown1", "MessageStatus": "delivered", "From": number, "To": PHONE}
    store_twilio(webhooks.VerifiedEvent(event_id="SMunknown1:delivered", kind="sms.status", payload=callback))
    while apply_webhooks():  # applied as nothing: a text Kaimen does not know; it stays with no business
        pass
    providers = FakeProviders()

    result = privacy.run_erasure(actor=tenant.owner, request_id=_deletion_request(tenant), erasers=providers.erasers)

    assert result.status == "completed"
    assert "SMunknown1" in providers.deleted  # the text is a record at Twilio
    assert rows(WebhookEvent, WebhookEvent.event_id == "SMunknown1:delivered")[0].payload == {"erased": True}
    assert count(AuditEvent, AuditEvent.action == "privacy.erasure.platform_traces") == 0
