"""Closing a business: export first, then everything erased, provider records included."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlmodel import select

from kaimen_core import db, privacy
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, Business, Customer, Message, StaffMember, User
from kaimen_core.privacy import ErasureFailed, ProviderErasers
from tests.factories import count, make_business, make_operator, make_records, make_staff, rows


class Deleted(list):
    def __call__(self, ref: str) -> None:
        self.append(ref)

    @property
    def erasers(self) -> ProviderErasers:
        return ProviderErasers(delete_message=self, delete_media=self, message_service="fake")


def _with_provider_records(tenant) -> None:
    b = tenant.business_id
    make_records(tenant)
    with db.system_session() as session:
        customer = session.exec(select(Customer).where(Customer.business_id == b)).first()
        session.add(Message(business_id=b, customer_id=customer.id, direction="outbound", status="delivered",
                            body="Your booking is confirmed", provider_sid=f"SMclose{b}"))
        session.add(StaffMember(business_id=b, name="Jo", photo_ref=f"local:staff/{b}.webp"))


def test_the_owner_asks_by_typing_the_name_and_can_withdraw(database):
    tenant = make_business("Harbor Nails")
    with db.tenant_session(tenant.owner) as session, pytest.raises(ValidationError, match="Type the business"):
        privacy.request_closure(session, actor=tenant.owner, confirm_name="harbor nails")
    with db.tenant_session(tenant.owner) as session:
        privacy.request_closure(session, actor=tenant.owner, confirm_name="Harbor Nails")
    assert rows(Business, Business.id == tenant.business_id)[0].closure_requested_at is not None
    with db.tenant_session(tenant.owner) as session:
        privacy.cancel_closure(session, actor=tenant.owner)
    assert rows(Business, Business.id == tenant.business_id)[0].closure_requested_at is None
    staff, _ = make_staff(tenant)
    with db.tenant_session(staff) as session, pytest.raises(PermissionDenied):
        privacy.request_closure(session, actor=staff, confirm_name="Harbor Nails")


def test_the_export_holds_every_table_of_the_business_and_no_secrets(database):
    tenant = make_business("Harbor Nails")
    other = make_business()
    make_records(tenant)
    make_records(other)
    with db.tenant_session(tenant.owner) as session:
        name, data = privacy.business_export(session, actor=tenant.owner)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert name.endswith("-export.zip")
    customers = json.loads(archive.read("customers.json"))
    assert [c["business_id"] for c in customers] == [tenant.business_id]
    users = json.loads(archive.read("users.json"))
    assert users and all("password_hash" not in u for u in users)
    assert "token_hash" not in archive.read("user_sessions.json").decode()


def test_an_operator_closes_a_business_and_nothing_of_it_remains(database):
    tenant, neighbour = make_business("Closing Time"), make_business()
    _with_provider_records(tenant)
    make_records(neighbour)
    operator, _ = make_operator()
    deleted = Deleted()
    with pytest.raises(ValidationError, match="has not asked"):
        privacy.close_business(actor=operator, business_id=tenant.business_id, erasers=deleted.erasers)
    with db.tenant_session(tenant.owner) as session:
        privacy.request_closure(session, actor=tenant.owner, confirm_name="Closing Time")

    certificate = privacy.close_business(actor=operator, business_id=tenant.business_id, erasers=deleted.erasers)

    assert sorted(deleted) == sorted([f"SMclose{tenant.business_id}", f"local:staff/{tenant.business_id}.webp"])
    assert certificate["verified_remaining_rows"] == 0 and certificate["rows_removed"] > 10
    assert count(Business, Business.id == tenant.business_id) == 0
    assert count(User, User.business_id == tenant.business_id) == 0
    assert count(Customer, Customer.business_id == neighbour.business_id) == 1
    [closed] = rows(AuditEvent, AuditEvent.action == "business.closed")
    assert closed.business_id is None and closed.target_id == str(tenant.business_id)
    with pytest.raises(Exception, match="No such business"):
        privacy.close_business(actor=operator, business_id=tenant.business_id, erasers=deleted.erasers)


def test_a_provider_failure_stops_before_deleting_and_a_rerun_resumes(database):
    tenant = make_business("Closing Time")
    _with_provider_records(tenant)
    with db.tenant_session(tenant.owner) as session:
        privacy.request_closure(session, actor=tenant.owner, confirm_name="Closing Time")
    operator, _ = make_operator()
    calls = []

    def flaky(ref: str) -> None:
        calls.append(ref)
        if ref.startswith("local:"):
            raise ConnectionError("media store down")

    with pytest.raises(ErasureFailed, match="run the closure again"):
        privacy.close_business(actor=operator, business_id=tenant.business_id,
                               erasers=ProviderErasers(delete_message=flaky, delete_media=flaky))
    assert count(Business, Business.id == tenant.business_id) == 1  # nothing deleted yet
    deleted = Deleted()
    privacy.close_business(actor=operator, business_id=tenant.business_id, erasers=deleted.erasers)
    assert deleted == [f"local:staff/{tenant.business_id}.webp"]  # the text was already deleted
    assert count(Business, Business.id == tenant.business_id) == 0


def test_only_operators_close_businesses(database):
    tenant = make_business()
    with pytest.raises(PermissionDenied):
        privacy.close_business(actor=tenant.owner, business_id=tenant.business_id, erasers=Deleted().erasers)
