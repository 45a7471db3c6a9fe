"""What people type (kaimen_core.validators): control characters are refused where text
enters, with a message for the person, on both databases.

A NUL is the sharp case: PostgreSQL text cannot hold it, and psycopg refuses it inside the
driver, so a NUL that reaches a query becomes a driver error carrying the SQL and its
parameters instead of a message (issue 14, item 5). Tab and line breaks stay allowed in
the fields that take several lines.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from kaimen_core import audit, bookings, customers, db, messaging, privacy, tenancy
from kaimen_core.actors import Actor
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Customer, utcnow
from kaimen_core.validators import MAX_SEARCH, clean_email, clean_id, clean_phone, clean_search, clean_text
from tests.factories import Records, Tenant, make_operator, make_records
from tests.fakes.messaging import texting_business

CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85"]


@pytest.mark.parametrize("control", CONTROL)
def test_one_line_text_refuses_every_control_character(control):
    with pytest.raises(ValidationError, match=r"^Search must not contain control characters\.$") as refused:
        clean_search(f"Dana{control}Reyes")
    assert refused.value.field == "search"
    with pytest.raises(ValidationError, match="control characters"):
        clean_text("one\ntwo", field="name", label="Name")


@pytest.mark.parametrize("control", CONTROL)
def test_several_lines_keep_tabs_and_line_breaks_and_refuse_the_rest(control):
    assert clean_text("  one\n\ttwo\r\nthree  ", field="notes", label="Notes", multiline=True) == "one\n\ttwo\r\nthree"
    with pytest.raises(ValidationError, match=r"^Notes must not contain control characters\.$"):
        clean_text(f"one\n{control}two", field="notes", label="Notes", multiline=True)


def test_a_search_is_trimmed_and_has_a_length():
    assert clean_search("  Dana  ") == "Dana"
    assert clean_search(None) == clean_search("   ") == ""
    clean_search("x" * MAX_SEARCH)
    with pytest.raises(ValidationError, match=f"at most {MAX_SEARCH} characters"):
        clean_search("x" * (MAX_SEARCH + 1))


def test_an_email_or_phone_with_a_nul_is_refused_not_read_around():
    # phonenumbers reads "+12125550123\x00" as a valid number, and the email pattern took any non-space
    with pytest.raises(ValidationError, match=r"^Phone number must not contain control characters\.$"):
        clean_phone("+12125550123\x00", region="US")
    with pytest.raises(ValidationError, match=r"^Email must not contain control characters\.$"):
        clean_email("dana\x00@example.com")


@pytest.mark.parametrize("typed", ["abc", "²", "١٢", "12a", "-3", "9" * 30, "1\x00"])
def test_an_id_typed_into_a_box_is_ascii_digits_that_fit_a_row(typed):
    assert clean_id(" 42 ", field="business_id", label="Business id") == 42
    assert clean_id("", field="business_id", label="Business id") is None
    with pytest.raises(ValidationError, match=r"^Business id must be a number\.$"):
        clean_id(typed, field="business_id", label="Business id")


# --- every place people's text enters kaimen_core -----------------------------------


@dataclass
class World:
    tenant: Tenant
    records: Records
    operator: Actor


Entry = Callable[..., object]


def _open_request(session, w: World, kind: str = "access") -> int:
    view = privacy.record_request(session, actor=w.tenant.owner, kind=kind, regime="gdpr", channel="email",
                                  requester_name="Dana Reyes", phone="+12125550123")
    return view.id


def _verified_request(session, w: World) -> int:
    request_id = _open_request(session, w)
    privacy.verify_identity(session, actor=w.tenant.owner, request_id=request_id, method="Photo ID")
    return request_id


_SOON = utcnow() + timedelta(days=3)
NUL = "Dana\x00Reyes"

#: Each public function that takes what a person typed, called with a NUL in it.
ENTRIES: dict[str, Entry] = {
    "customers.search_customers": lambda s, w: customers.search_customers(s, actor=w.tenant.owner, query=NUL),
    "customers.search_customers (a number)": lambda s, w: customers.search_customers(
        s, actor=w.tenant.owner, query="+1212555\x000123"),
    "customers.export_customers": lambda s, w: customers.export_customers(
        s, actor=w.tenant.owner, out=io.BytesIO(), query=NUL),
    "customers.create_customer (name)": lambda s, w: customers.create_customer(s, actor=w.tenant.owner, name=NUL),
    "customers.create_customer (email)": lambda s, w: customers.create_customer(
        s, actor=w.tenant.owner, name="Dana", email="dana\x00@example.com"),
    "customers.create_customer (notes)": lambda s, w: customers.create_customer(
        s, actor=w.tenant.owner, name="Dana", notes=NUL),
    "customers.record_consent": lambda s, w: customers.record_consent(
        s, actor=w.tenant.owner, customer_id=w.records.customer_id, kind="marketing", granted=True,
        method="in_person", wording=NUL),
    "messaging.list_conversations": lambda s, w: messaging.list_conversations(s, actor=w.tenant.owner, search=NUL),
    "messaging.simulate_incoming": lambda s, w: messaging.simulate_incoming(
        s, actor=w.tenant.owner, phone="+12125550123", body=NUL),
    "messaging.send_text": lambda s, w: messaging.send_text(
        s, actor=w.tenant.owner, customer_id=w.records.customer_id, body=NUL),
    "messaging.update_messaging_settings": lambda s, w: messaging.update_messaging_settings(
        s, actor=w.tenant.owner, reminder_24h=True, reminder_2h=False, templates={"thanks": "Thanks {name}\x00"}),
    "messaging.add_screening_term": lambda s, w: messaging.add_screening_term(
        s, actor=w.operator, term="cheap\x00pills", reason="Prohibited"),
    "bookings.create_staff (bio)": lambda s, w: bookings.create_staff(s, actor=w.tenant.owner, name="Sam", bio=NUL),
    "bookings.create_booking (notes)": lambda s, w: bookings.create_booking(
        s, actor=w.tenant.owner, staff_id=w.records.staff_id, service_id=w.records.service_id, start_at=_SOON,
        notes=NUL),
    "bookings.add_time_off (reason)": lambda s, w: bookings.add_time_off(
        s, actor=w.tenant.owner, staff_id=w.records.staff_id, starts_at=_SOON, ends_at=_SOON + timedelta(hours=2),
        reason=NUL),
    "privacy.record_request (contact)": lambda s, w: privacy.record_request(
        s, actor=w.tenant.owner, kind="access", regime="gdpr", channel="email", requester_name="Dana Reyes",
        requester_contact=NUL, phone="+12125550123"),
    "privacy.extend (notice)": lambda s, w: privacy.extend(
        s, actor=w.tenant.owner, request_id=_open_request(s, w), notice=NUL),
    "privacy.refuse (legal reason)": lambda s, w: privacy.refuse(
        s, actor=w.tenant.owner, request_id=_open_request(s, w), legal_reason=NUL + " manifestly unfounded"),
    "privacy.complete (response)": lambda s, w: privacy.complete(
        s, actor=w.tenant.owner, request_id=_verified_request(s, w), response=NUL),
    "tenancy.list_businesses (search)": lambda s, w: tenancy.list_businesses(s, actor=w.operator, search=NUL),
    "tenancy.business_by_slug": lambda s, w: tenancy.business_by_slug(s, actor=w.operator, slug="demo\x00"),
    "audit.list_events (action)": lambda s, w: audit.list_events(s, actor=w.tenant.owner, action="auth\x00"),
}
#: The entries only operators use; the others are the owner's.
BY_OPERATORS = {"messaging.add_screening_term", "tenancy.list_businesses (search)", "tenancy.business_by_slug"}


@pytest.fixture
def world(database) -> World:
    tenant, _ = texting_business()
    records = make_records(tenant)
    with db.system_session() as session:  # the records' customer has the number the privacy requests name
        session.get(Customer, records.customer_id).phone_e164 = "+12125550123"
    operator, _ = make_operator()
    return World(tenant, records, operator)


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_a_nul_where_text_enters_is_refused_with_a_message(world, entry):
    actor = world.operator if entry in BY_OPERATORS else world.tenant.owner
    with pytest.raises(ValidationError, match="must not contain control characters") as refused:
        with db.tenant_session(actor) as session:
            ENTRIES[entry](session, world)
    assert "\x00" not in str(refused.value)
