"""Customers: the directory (search, sort, paging, add, edit) and consent as events."""

from __future__ import annotations

import pytest

from kaimen_core import customers, db
from kaimen_core.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, ConsentEvent
from tests.factories import count, make_business, make_staff


def _add(actor, **fields):
    with db.tenant_session(actor) as session:
        return customers.create_customer(session, actor=actor, **fields)


def _search(actor, **kwargs):
    with db.tenant_session(actor) as session:
        return customers.search_customers(session, actor=actor, **kwargs)


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("(212) 555-0134", "US", "+12125550134"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("030 1234567", "DE", "+49301234567"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+52 55 1234 5678", "US", "+525512345678"),
    ],
)
def test_phones_from_several_countries_are_stored_in_e164(database, typed, region, stored):
    tenant = make_business()
    if region != "US":
        from kaimen_core import tenancy
        from kaimen_core.models import BusinessUpdate

        with db.tenant_session(tenant.owner) as session:
            tenancy.update_business(session, actor=tenant.owner, changes=BusinessUpdate(region=region))
    customer = _add(tenant.owner, name="Ana", phone=typed)
    assert customer.phone_e164 == stored
    # ...and the same number typed another way finds them.
    assert [c.id for c in _search(tenant.owner, query=stored).customers] == [customer.id]
    assert [c.id for c in _search(tenant.owner, query=typed).customers] == [customer.id]


def test_an_invalid_phone_is_refused_with_the_reason(database):
    tenant = make_business()
    with pytest.raises(ValidationError, match="not a valid phone number for US") as refused:
        _add(tenant.owner, name="Ana", phone="555-01")
    assert refused.value.field == "phone"
    with pytest.raises(ValidationError, match="not a phone number"):
        _add(tenant.owner, name="Ana", phone="call me")


def test_one_customer_per_phone_per_business(database):
    a, b = make_business(), make_business()
    first = _add(a.owner, name="Ana", phone="212-555-0134")
    with pytest.raises(Conflict, match=r"already has the number \+12125550134"):
        _add(a.owner, name="Other Ana", phone="+1 212 555 0134")
    assert _add(b.owner, name="Ana at B", phone="212 555 0134").phone_e164 == first.phone_e164
    other = _add(a.owner, name="Bo", phone="212 555 0199")
    with db.tenant_session(a.owner) as session, pytest.raises(Conflict):
        customers.update_customer(session, actor=a.owner, customer_id=other.id, name="Bo", phone="2125550134")


def test_search_by_name_email_tag_and_phone_fragment(database):
    tenant = make_business()
    dana = _add(tenant.owner, name="Dana Whitfield", phone="2125550101", email="dana@example.com", tags="vip; color")
    _add(tenant.owner, name="Eli Moss", phone="2125550102", email="eli@sample.org", tags=["regular"])
    for query in ("whitf", "DANA@EX", "vip", "#color", "555-0101", "0101"):
        assert [c.id for c in _search(tenant.owner, query=query).customers] == [dana.id], query
    assert _search(tenant.owner, query="100%").customers == []  # LIKE wildcards are literal
    assert len(_search(tenant.owner, query="").customers) == 2


def test_sort_and_paging_never_load_more_than_a_page(database):
    tenant = make_business()
    for i in range(7):
        _add(tenant.owner, name=f"Customer {i}", phone=f"21255501{i:02d}")
    first = _search(tenant.owner, sort="name", page_size=3)
    second = _search(tenant.owner, sort="name", page=1, page_size=3)
    last = _search(tenant.owner, sort="name", page=2, page_size=3)
    assert [c.name for c in first.customers] == ["Customer 0", "Customer 1", "Customer 2"]
    assert [c.name for c in second.customers] == ["Customer 3", "Customer 4", "Customer 5"]
    assert [c.name for c in last.customers] == ["Customer 6"]
    assert (first.has_next, second.has_next, last.has_next) == (True, True, False)
    assert _search(tenant.owner, sort="newest", page_size=1).customers[0].name == "Customer 6"
    with pytest.raises(ValidationError):
        _search(tenant.owner, sort="phone; DROP TABLE customers")


def test_staff_add_and_edit_customers_and_edits_are_audited(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    customer = _add(staff, name="Ana", phone="2125550134", notes="likes mornings")
    with db.tenant_session(staff) as session:
        edited = customers.update_customer(session, actor=staff, customer_id=customer.id, name="Ana Ruiz",
                                           phone="2125550134", email="ana@example.com", tags="vip",
                                           preferred_language="ES", time_zone="America/Mexico_City")
    assert (edited.name, edited.email, edited.tags, edited.preferred_language) == (
        "Ana Ruiz", "ana@example.com", ["vip"], "es")
    assert count(AuditEvent, AuditEvent.action == "customer.updated", AuditEvent.target_id == str(customer.id)) == 1
    assert [c.id for c in _search(staff, query="ruiz").customers] == [customer.id]


def test_consent_changes_are_kept_as_history(database):
    tenant = make_business()
    owner = tenant.owner
    customer = _add(owner, name="Ana", phone="2125550134")
    assert (customer.transactional_consent, customer.marketing_consent) == (True, False)
    with db.tenant_session(owner) as session:
        with pytest.raises(ValidationError, match="wording"):
            customers.record_consent(session, actor=owner, customer_id=customer.id, kind="marketing", granted=True,
                                     method="in_person")
    with db.tenant_session(owner) as session:
        granted = customers.record_consent(session, actor=owner, customer_id=customer.id, kind="marketing",
                                           granted=True, method="in person", wording="Offers by text, 2/month")
    with db.tenant_session(owner) as session:
        customers.record_consent(session, actor=owner, customer_id=customer.id, kind="marketing", granted=False,
                                 method="phone_call")
    assert granted.marketing_consent and granted.marketing_consent_method == "in_person"
    with db.tenant_session(owner) as session:
        history = customers.list_consent_events(session, actor=owner, customer_id=customer.id)
        now = customers.get_customer(session, actor=owner, customer_id=customer.id)
    assert [(e.kind, e.granted, e.method, e.captured_by) for e in history] == [
        ("marketing", False, "phone_call", tenant.username),
        ("marketing", True, "in_person", tenant.username),
    ]
    assert history[1].wording == "Offers by text, 2/month"
    assert not now.marketing_consent and now.marketing_consent_at is None
    assert count(ConsentEvent, ConsentEvent.customer_id == customer.id) == 2


def test_a_customer_of_another_business_is_not_found(database):
    a, b = make_business(), make_business()
    theirs = _add(b.owner, name="Bea", phone="2125550134")
    with db.tenant_session(a.owner) as session, pytest.raises(NotFound):
        customers.customer_history(session, actor=a.owner, customer_id=theirs.id)


def test_operators_cannot_use_the_directory(database):
    from tests.factories import make_operator

    operator, _ = make_operator()
    with db.tenant_session(operator) as session, pytest.raises(PermissionDenied):
        customers.search_customers(session, actor=operator)


def test_rows_written_by_any_orm_path_are_searchable_and_blanking_them_clears_the_search_column(database):
    from kaimen_core.models import Customer
    from tests.factories import make_records, rows

    tenant = make_business()
    records = make_records(tenant)  # written as plain rows, as the demo and other modules do
    [found] = _search(tenant.owner, query=f"customer of {tenant.business_id}").customers
    assert found.id == records.customer_id
    with db.system_session() as session:  # what an erasure does to the row
        customer = session.get(Customer, records.customer_id)
        customer.name, customer.email, customer.phone_e164 = "Erased customer", None, None
        session.add(customer)
    [row] = rows(Customer, Customer.id == records.customer_id)
    assert row.search_text == "erased customer  "
