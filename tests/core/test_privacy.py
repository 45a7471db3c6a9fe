"""Privacy requests: due dates, the workflow, access export, correction, restriction."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from kaimen_core import db, privacy
from kaimen_core.exceptions import NotFound, PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, Booking, ConsentEvent, Customer, Message, PrivacyRequest, StaffMember
from tests.factories import count, make_business, make_operator, make_staff, rows


def _customer(tenant, *, name="Maria Lopez", phone="+12125550199", email="maria@example.com") -> int:
    with db.system_session() as session:
        customer = Customer(business_id=tenant.business_id, name=name, phone_e164=phone, email=email)
        session.add(customer)
        session.flush()
        return customer.id


def _record(tenant, kind="access", regime="gdpr", **kwargs):
    with db.tenant_session(tenant.owner) as session:
        return privacy.record_request(session, actor=tenant.owner, kind=kind, regime=regime, channel="email",
                                      requester_name="Maria Lopez", requester_contact="maria@example.com",
                                      **{"phone": "(212) 555-0199", **kwargs})


def _act(tenant, fn, **kwargs):
    with db.tenant_session(tenant.owner) as session:
        return fn(session, actor=tenant.owner, **kwargs)


# --- due dates -----------------------------------------------------------------------


def test_gdpr_is_due_one_calendar_month_after_receipt_and_extends_by_two():
    received = datetime(2027, 1, 31, 15, 0, tzinfo=UTC)
    due = privacy.due_date("gdpr", received)
    assert due == datetime(2027, 2, 28, 15, 0, tzinfo=UTC)
    assert privacy.extended_due_date("gdpr", due) == datetime(2027, 4, 28, 15, 0, tzinfo=UTC)
    assert privacy.acknowledge_by("gdpr", received) is None


def test_ccpa_is_due_in_45_days_with_acknowledgement_in_10_business_days():
    received = datetime(2027, 3, 5, 9, 0, tzinfo=UTC)  # a Friday
    assert privacy.due_date("ccpa", received) == received + timedelta(days=45)
    assert privacy.extended_due_date("ccpa", received + timedelta(days=45)) == received + timedelta(days=90)
    assert privacy.acknowledge_by("ccpa", received) == datetime(2027, 3, 19, 9, 0, tzinfo=UTC)  # two weeks on


# --- recording and the workflow -----------------------------------------------------------


def test_a_request_is_matched_by_phone_in_any_format_or_by_email(database):
    tenant = make_business()
    customer_id = _customer(tenant)
    by_phone = _record(tenant)
    by_email = _record(tenant, phone=None, email="MARIA@example.com")
    assert by_phone.customer_id == by_email.customer_id == customer_id
    assert by_phone.status == "received" and by_phone.subject_ref == f"customer #{customer_id}"
    assert by_phone.due_at - by_phone.received_at >= timedelta(days=28)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": "(212) 555-0100"}, "No customer of this business has that phone number or email."),
        ({"phone": None, "email": None}, "Give the phone number or email the person is known by."),
        ({"kind": "forget-me"}, "Unknown request kind 'forget-me'."),
        ({"regime": "pipeda"}, "Unknown regime 'pipeda'."),
        ({"phone": "not a phone"}, "'not a phone' is not a phone number."),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_written(database, change, message):
    tenant = make_business()
    _customer(tenant)
    args = {"kind": "access", "regime": "gdpr", **change}
    with pytest.raises(ValidationError) as error:
        _record(tenant, **args)
    assert str(error.value) == message
    assert count(PrivacyRequest) == 0


def test_the_workflow_moves_forward_and_each_step_is_audited(database):
    tenant = make_business()
    _customer(tenant)
    request = _record(tenant, kind="access", regime="ccpa")
    with pytest.raises(ValidationError, match="Verify the person's identity first"):
        _act(tenant, privacy.start, request_id=request.id)
    _act(tenant, privacy.acknowledge, request_id=request.id)
    _act(tenant, privacy.verify_identity, request_id=request.id, method="Matched phone and booking history")
    _act(tenant, privacy.start, request_id=request.id)
    with pytest.raises(ValidationError, match="Record the notice"):
        _act(tenant, privacy.extend, request_id=request.id, notice="later")
    extended = _act(tenant, privacy.extend, request_id=request.id,
                    notice="We need 45 more days because of the volume of records; new date sent by email.")
    assert extended.effective_due_at == request.due_at + timedelta(days=45)
    with pytest.raises(ValidationError, match="already extended"):
        _act(tenant, privacy.extend, request_id=request.id, notice="x" * 30)
    done = _act(tenant, privacy.complete, request_id=request.id, response="Sent the ZIP export by email.")
    assert done.status == "completed" and done.completed_at is not None
    with pytest.raises(ValidationError, match="already completed"):
        _act(tenant, privacy.refuse, request_id=request.id, legal_reason="Manifestly unfounded request")
    actions = [e.action for e in rows(AuditEvent, AuditEvent.target_type == "privacy_request")]
    assert actions == ["privacy.recorded", "privacy.acknowledged", "privacy.verified", "privacy.started",
                       "privacy.extended", "privacy.completed"]
    assert "Maria" not in json.dumps([e.detail for e in rows(AuditEvent)])


def test_refusal_needs_a_legal_reason(database):
    tenant = make_business()
    _customer(tenant)
    request = _record(tenant)
    with pytest.raises(ValidationError, match="legal reason"):
        _act(tenant, privacy.refuse, request_id=request.id, legal_reason="no")
    refused = _act(tenant, privacy.refuse, request_id=request.id,
                   legal_reason="Identity could not be verified (Art. 12(6) GDPR)")
    assert refused.status == "refused"


def test_overdue_and_due_soon_requests_stand_out(database):
    tenant = make_business()
    _customer(tenant)
    now = datetime.now(UTC)
    late = _record(tenant, received_at=now - timedelta(days=40))
    soon = _record(tenant, regime="ccpa", received_at=now - timedelta(days=40))
    fresh = _record(tenant, regime="ccpa")
    views = {v.id: v for v in _act(tenant, privacy.list_requests)}
    assert views[late.id].overdue and not views[late.id].due_soon
    assert views[soon.id].due_soon and views[soon.id].overdue  # acknowledgement is 10 business days late
    assert not views[fresh.id].overdue and not views[fresh.id].due_soon
    assert _act(tenant, privacy.list_requests)[0].id == late.id  # soonest due first


def test_staff_cannot_handle_privacy_requests(database):
    tenant = make_business()
    _customer(tenant)
    request = _record(tenant)
    staff, _ = make_staff(tenant)
    with db.tenant_session(staff) as session, pytest.raises(PermissionDenied):
        privacy.list_requests(session, actor=staff)
    with db.tenant_session(staff) as session, pytest.raises(PermissionDenied):
        privacy.verify_identity(session, actor=staff, request_id=request.id, method="looked at them")
    with pytest.raises(PermissionDenied):
        privacy.run_erasure(actor=staff, request_id=request.id)


def test_another_business_request_is_not_found(database):
    a, b = make_business(), make_business()
    _customer(b)
    theirs = _record(b)
    for fn, extra in ((privacy.get_request, {}), (privacy.verify_identity, {"method": "phone call"}),
                      (privacy.access_export, {})):
        with db.tenant_session(a.owner) as session, pytest.raises(NotFound):
            fn(session, actor=a.owner, request_id=theirs.id, **extra)
    assert _act(a, privacy.list_requests) == []


def test_operators_record_requests_for_a_business_on_its_instruction(database):
    tenant = make_business()
    _customer(tenant)
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        with pytest.raises(ValidationError, match="Choose the business"):
            privacy.record_request(session, actor=operator, kind="deletion", regime="gdpr", channel="letter",
                                   requester_name="Maria Lopez", phone="+12125550199")
    with db.tenant_session(operator) as session:
        view = privacy.record_request(session, actor=operator, kind="deletion", regime="gdpr", channel="letter",
                                      requester_name="Maria Lopez", phone="+12125550199",
                                      business_id=tenant.business_id)
    assert view.business_id == tenant.business_id
    assert [v.id for v in _act(tenant, privacy.list_requests)] == [view.id]


# --- the kinds ---------------------------------------------------------------------------


def test_access_export_is_a_zip_of_everything_held_with_a_plain_summary(database):
    tenant = make_business("Harbor Nails")
    customer_id = _customer(tenant)
    with db.system_session() as session:
        staff = StaffMember(business_id=tenant.business_id, name="Sam")
        session.add(staff)
        session.flush()
        session.add(Booking(business_id=tenant.business_id, customer_id=customer_id, staff_id=staff.id,
                            start_at=datetime(2027, 1, 2, 15, tzinfo=UTC), end_at=datetime(2027, 1, 2, 16, tzinfo=UTC)))
        session.add(Message(business_id=tenant.business_id, customer_id=customer_id, direction="inbound",
                            status="received", body="=HYPERLINK(\"x\") can I move my booking?"))
        session.add(ConsentEvent(business_id=tenant.business_id, customer_id=customer_id, kind="marketing",
                                 granted=True, method="web_form"))
    request = _record(tenant)
    with pytest.raises(ValidationError, match="Verify"):
        _act(tenant, privacy.access_export, request_id=request.id)
    _act(tenant, privacy.verify_identity, request_id=request.id, method="Replied from the number on file")
    name, data = _act(tenant, privacy.access_export, request_id=request.id)
    assert name == f"access-request-{request.id}.zip"
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(archive.namelist()) == ["README.txt", "bookings.csv", "bookings.json", "consent.csv",
                                          "consent.json", "messages.csv", "messages.json", "profile.csv",
                                          "profile.json"]
    summary = archive.read("README.txt").decode()
    for recipient in ("Twilio", "Stripe", "Anthropic", "Cloudinary", "Railway"):
        assert recipient in summary
    assert "Harbor Nails" in summary and "Retention" in summary and "Source" in summary
    assert json.loads(archive.read("profile.json"))[0]["email"] == "maria@example.com"
    assert len(json.loads(archive.read("bookings.json"))) == 1
    assert json.loads(archive.read("consent.json"))[0]["method"] == "web_form"
    messages_csv = archive.read("messages.csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in messages_csv  # safe to open in a spreadsheet


def test_correction_records_which_fields_changed_never_their_values(database):
    tenant = make_business()
    _customer(tenant)
    request = _record(tenant, kind="correction")
    with pytest.raises(ValidationError, match="Choose the corrected fields"):
        _act(tenant, privacy.record_correction, request_id=request.id, fields=["password"])
    view = _act(tenant, privacy.record_correction, request_id=request.id, fields=["email", "name"])
    assert view.changed_fields == ["email", "name"]
    event = rows(AuditEvent, AuditEvent.action == "privacy.corrected")[0]
    assert event.detail == {"fields": "email,name"}


def test_restriction_keeps_the_customer_and_lifting_it_records_a_notice(database):
    tenant = make_business()
    customer_id = _customer(tenant)
    request = _record(tenant, kind="restriction")
    _act(tenant, privacy.verify_identity, request_id=request.id, method="In person with ID")
    with pytest.raises(ValidationError, match="Restrict the customer before"):
        _act(tenant, privacy.complete, request_id=request.id, response="done")
    _act(tenant, privacy.restrict, request_id=request.id)
    assert rows(Customer, Customer.id == customer_id)[0].restricted_at is not None
    _act(tenant, privacy.complete, request_id=request.id, response="Restricted; confirmed by email.")
    with pytest.raises(ValidationError, match="Record the notice"):
        _act(tenant, privacy.lift_restriction, request_id=request.id, notice="ok")
    _act(tenant, privacy.lift_restriction, request_id=request.id,
         notice="Told the customer by email on 3 March that the restriction ends.")
    assert rows(Customer, Customer.id == customer_id)[0].restricted_at is None
