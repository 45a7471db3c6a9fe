"""The Privacy pages: owners record and answer requests; operators erase in bulk."""

from __future__ import annotations

import pytest

from kaimen_core import db, privacy, retention
from kaimen_core.models import Customer, PrivacyRequest
from tests.factories import count, make_business, make_operator, make_staff, rows


def _customer(tenant) -> int:
    with db.system_session() as session:
        customer = Customer(business_id=tenant.business_id, name="Maria Lopez", phone_e164="+12125550199",
                            email="maria@example.com")
        session.add(customer)
        session.flush()
        return customer.id


@pytest.fixture
def privacy_page(signed_in):
    def open_page(tenant):
        at = signed_in(tenant.username).switch_page("pages/privacy.py").run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Privacy requests"]
        return at

    return open_page


def test_an_owner_records_a_request_and_sees_its_due_date(database, privacy_page, press):
    tenant = make_business()
    _customer(tenant)
    at = privacy_page(tenant)
    assert "No privacy requests yet." in [i.value for i in at.info]
    at.selectbox(key="pr_kind").select("deletion")
    at.text_input(key="pr_requester").input("Maria Lopez")
    at.text_input(key="pr_phone").input("(212) 555-0199")
    press(at, "Record request")
    assert not at.exception
    assert any(s.value.startswith("Recorded request") for s in at.success), [e.value for e in at.error]
    [request] = rows(PrivacyRequest)
    assert request.kind == "deletion" and request.status == "received"


def test_a_request_for_an_unknown_customer_shows_why_and_records_nothing(database, privacy_page, press):
    tenant = make_business()
    _customer(tenant)
    at = privacy_page(tenant)
    at.text_input(key="pr_requester").input("Someone Else")
    at.text_input(key="pr_phone").input("(212) 555-0100")
    press(at, "Record request")
    assert [e.value for e in at.error] == ["No customer of this business has that phone number or email."]
    assert count(PrivacyRequest) == 0


def test_an_owner_verifies_and_downloads_the_access_export(database, privacy_page, press):
    tenant = make_business()
    _customer(tenant)
    with db.tenant_session(tenant.owner) as session:
        privacy.record_request(session, actor=tenant.owner, kind="access", regime="gdpr", channel="email",
                               requester_name="Maria Lopez", email="maria@example.com")
    at = privacy_page(tenant)
    at.text_input(key="pr_method").input("Replied from the email on file")
    press(at, "Record identity check")
    assert "Identity check recorded." in [s.value for s in at.success]
    press(at, "Prepare the access export")
    assert not at.exception and not at.error
    assert [b.label for b in at.get("download_button")] == ["Download ZIP"]


def test_staff_have_no_privacy_page(database, signed_in):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    at = signed_in(staff.username)
    with pytest.raises(Exception, match="privacy"):
        at.switch_page("pages/privacy.py")


def test_operators_see_deletion_requests_across_businesses(database, signed_in, press):
    tenant = make_business()
    _customer(tenant)
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="ccpa",
                                      channel="email", requester_name="Maria Lopez", email="maria@example.com")
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/privacy_operations.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Privacy deletions"]
    assert "None of them has a verified identity yet" in " ".join(i.value for i in at.info)
    with db.tenant_session(tenant.owner) as session:
        privacy.verify_identity(session, actor=tenant.owner, request_id=view.id, method="Code sent to email")
    at.run()
    assert [o for o in at.multiselect(key="bulk_chosen").value] != []


def test_an_owner_changes_how_long_texts_are_kept(database, privacy_page, press):
    tenant = make_business()
    at = privacy_page(tenant)
    at.number_input(key="ret_msg").set_value(6)
    press(at, "Save retention periods")
    assert not at.exception and not at.error
    assert "Retention periods saved; the daily purge applies them." in [s.value for s in at.success]
    with db.tenant_session(tenant.owner) as session:
        assert retention.get_periods(session, actor=tenant.owner).messages_months == 6


def test_an_operator_records_a_request_on_a_business_instruction(database, signed_in, press):
    tenant = make_business("Harbor Nails")
    _customer(tenant)
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/privacy_operations.py").run()
    at.text_input(key="op_slug").input("no-such-business")
    at.text_input(key="op_requester").input("Maria Lopez")
    at.text_input(key="op_phone").input("(212) 555-0199")
    press(at, "Record request")
    assert [e.value for e in at.error] == ["No business has the slug 'no-such-business'."]
    at.text_input(key="op_slug").input("harbor-nails")
    press(at, "Record request")
    assert not at.exception and not at.error, [e.value for e in at.error]
    [request] = rows(PrivacyRequest)
    assert (request.business_id, request.kind, request.status) == (tenant.business_id, "deletion", "received")
