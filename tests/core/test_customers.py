"""Customers: the directory (search, sort, paging, add, edit) and consent as events."""

from __future__ import annotations

import pytest

from kaimen_core import customers, db, tenancy
from kaimen_core.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, BusinessUpdate, ConsentEvent
from tests.factories import count, make_business, make_staff


def _add(actor, **fields):
    with db.tenant_session(actor) as session:
        return customers.create_customer(session, actor=actor, **fields)


def _search(actor, **kwargs):
    with db.tenant_session(actor) as session:
        return customers.search_customers(session, actor=actor, **kwargs)


def _set_region(tenant, region: str) -> None:
    """The country the business reads phone numbers in (a new business reads them as US)."""
    if region != "US":
        with db.tenant_session(tenant.owner) as session:
            tenancy.update_business(session, actor=tenant.owner, changes=BusinessUpdate(region=region))


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
    _set_region(tenant, region)
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


# --- search routes --------------------------------------------------------------------
# On PostgreSQL a substring search reads the sort index, or collects its matches through
# the trigram index, or both (kaimen_core.customers.search.route). Every route must give
# exactly the page the plain definition gives: the matches sorted by the key, then the id.

_ROUTES = {  # routes forced through search_customers(route=...), with limits that make each step hand on
    "reach the page in the sort index": customers.Route("reach", reach=10_000),
    "reach, then trigram matches": customers.Route("reach", reach=2),
    "reach, then the long walk": customers.Route("reach", reach=2, most=0),
    "trigram matches in the business's list": customers.Route("collect", few=10**6, by_business=True),
    "trigram matches in the term's lists only": customers.Route("collect", few=10**6, by_business=False),
    "a few trigram matches, then reach": customers.Route("collect", few=0, reach=10_000),
    "a few, reach, then trigram matches": customers.Route("collect", few=0, reach=2),
    "a few, reach, trigram, then the long walk": customers.Route("collect", few=0, reach=2, most=0),
    # more matches than collected: the sort index is read up to the last of the page's worth found
    "a few trigram matches overflow: up to where they end": customers.Route("collect", few=6),
    "a few trigram matches overflow, too sparse to walk: collect more": customers.Route("collect", few=6, reach=0),
    "a few overflow, too sparse to walk; more overflow: up to where they end": customers.Route(
        "collect", few=6, reach=0, most=7),
    "reach, then trigram matches overflow: up to where they end": customers.Route("reach", reach=2, most=6),
    "walk the sort index": customers.Route("walk"),
}
_FIRST = ["Ana", "Ben", "Chloe", "Dana", "Eli"]
_LAST = ["Garcia", "Moss", "Ruiz", "Tanaka"]


@pytest.fixture
def directory(database):
    """A business with 41 customers whose names, emails and tags repeat, some of them many times."""
    return make_directory(database)


def make_directory(database):
    """The business of :func:`directory`: (tenant, customers as made)."""
    tenant = make_business()
    made = []
    for i in range(40):
        made.append(_add(tenant.owner, name=f"{_FIRST[i * 3 % 5]} {_LAST[i % 4]}", phone=f"21255502{i:02d}",
                         email=f"client{i}@example.com", tags="vip" if i % 6 == 0 else None))
    # A search column too long for a btree entry (3,200 bytes of tags): the sort indexes leave
    # it to indexes of its own, and every route must still find it in its place.
    made.append(_add(tenant.owner, name="Ana Garcia", email="client40@example.com",
                     tags=[f"{n:02d}" + "\U0001d538" * 38 for n in range(20)]))
    if database.kind == "postgres":  # the table's statistics, which some routes read
        from sqlalchemy import text

        with database.owner.begin() as connection:
            connection.execute(text("ANALYZE customers"))
    return tenant, made


def _expected(made, needle: str, sort: str) -> list[int]:
    from kaimen_core.models.customers import customer_search_text

    hits = [c for c in made if needle in customer_search_text(c.name, c.email, c.phone_e164, c.tags)]
    if sort == "name":
        return [c.id for c in sorted(hits, key=lambda c: (c.name, c.id))]
    key = "created_at" if sort == "newest" else "updated_at"
    return [c.id for c in sorted(hits, key=lambda c: (getattr(c, key), c.id), reverse=True)]


@pytest.mark.parametrize("route", list(_ROUTES))
def test_every_search_route_gives_the_same_pages(database, directory, route):
    tenant, made = directory
    by_id = {c.id: c for c in made}
    for needle in ("garcia", "ana g", "a r", "client1", "@example.com", "#vip", "5550213", "chloe ruiz", "zzq"):
        for sort in ("name", "newest", "recently_updated"):
            expected = _expected(made, needle, sort)
            pages = [_search(tenant.owner, query=needle, sort=sort, page=p, page_size=4, route=_ROUTES[route])
                     for p in range(3)]
            assert [c.id for page in pages for c in page.customers] == expected[:12], (needle, sort)
            # each customer as the page shows it, however the route read the row
            assert [c for page in pages for c in page.customers] == [by_id[i] for i in expected[:12]]
            assert [page.has_next for page in pages] == [len(expected) > 4 * (p + 1) for p in range(3)], needle
            routes = {page.route for page in pages}
            assert routes <= ({"walk", "reach", "collect"} if database.kind == "postgres" else {"rows"}), routes


def test_a_search_sees_changes_made_earlier_in_the_same_session(directory):
    from kaimen_core.models import Customer

    tenant, made = directory
    with db.tenant_session(tenant.owner) as session:
        customer = session.get(Customer, made[0].id)
        customer.name = "Zed Newcomer"  # not flushed yet
        page = customers.search_customers(session, actor=tenant.owner, query="zed newc")
        assert [c.id for c in page.customers] == [made[0].id]


def test_browsing_pages_through_every_row_in_sort_order(directory):
    tenant, made = directory
    for sort in ("name", "newest", "recently_updated"):
        expected = _expected(made, "", sort)
        pages = [_search(tenant.owner, sort=sort, page=p, page_size=8) for p in range(6)]
        assert [c.id for page in pages for c in page.customers] == expected, sort
        assert [page.has_next for page in pages] == [True] * 5 + [False], sort


def test_a_term_whose_pieces_are_in_every_row_is_found_by_its_rare_part(database, directory):
    from kaimen_core.customers.search.route import rare_part, rarest_share

    tenant, made = directory
    # "client" and "example" are in every row: the lookup uses only the part between them.
    assert rare_part("client27@example.com", ["client1@example.com"] * 10) == "nt27@e"
    page = _search(tenant.owner, query="client27@example.com", route=customers.Route("collect"))
    assert [c.id for c in page.customers] == [made[27].id]
    assert page.route == ("collect" if database.kind == "postgres" else "rows")
    assert rare_part("client", ["client1@example.com"] * 10) is None  # nothing rare: read the sort index
    assert rare_part("ab", []) is None  # too short for a trigram
    # the rarest piece of letters or digits: "27@" and "7@e" are not looked up as such
    assert rarest_share("nt27@e", ["client27@example.com", "client2@example.com", "client1@example.com"]) == 1 / 3


def test_search_leaves_the_planner_settings_as_it_found_them(directory):
    tenant, _ = directory
    with db.tenant_session(tenant.owner) as session:
        if session.connection().dialect.name != "postgresql":
            pytest.skip("planner settings are PostgreSQL's")
        from sqlalchemy import text

        before = session.exec(text("SELECT current_setting('enable_seqscan'), current_setting('enable_sort')")).one()
        customers.search_customers(session, actor=tenant.owner, query="garcia")
        after = session.exec(text("SELECT current_setting('enable_seqscan'), current_setting('enable_sort')")).one()
    assert tuple(after) == tuple(before) == ("on", "on")


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_later_page_of_a_walk_reads_only_its_own_customers(directory):

    from kaimen_core.customers.search import statements

    tenant, made = directory
    walk = statements.walk(statements.SortKey("name", False))
    with db.tenant_session(tenant.owner) as session:
        connection = session.connection()
        with statements.planner(session, statements.SORT_INDEX):
            compiled = walk.compile(connection)
            params = {**compiled.params, "business": tenant.business_id, "needle": "example.com", "skip": 8,
                      "wanted": 13}  # page 3 of 4 (and one more to tell whether a page follows)
            [[plan]] = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", params).all()
            rows = connection.execute(walk, params).all()

    def nodes(node):
        yield node
        for child in node.get("Plans", ()):
            yield from nodes(child)

    # no customer is read and then dropped (a condition on the row's number checked after
    # the read would drop the 8 before the page, and one after it)
    assert sum(node.get("Rows Removed by Join Filter", 0) for node in nodes(plan[0]["Plan"])) == 0
    assert any(node.get("Index Name") == "pk_customers" for node in nodes(plan[0]["Plan"]))
    assert [row.found for row in rows] == _expected(made, "example.com", "name")[:13]
    assert [row.name is not None for row in rows] == [False] * 8 + [True] * 4 + [False]


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_walk_of_the_sort_index_is_planned_once_not_on_every_search(directory):
    from sqlalchemy import text

    tenant, made = directory
    with db.tenant_session(tenant.owner) as session:
        for _ in range(12):  # the driver prepares a statement on its fifth run
            page = customers.search_customers(session, actor=tenant.owner, query="garcia",
                                              route=customers.Route("walk"))
        plans = session.exec(text("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                  "WHERE statement LIKE 'SELECT shown.id%'")).all()
    assert [c.id for c in page.customers] == _expected(made, "garcia", "name")
    assert len(plans) == 1 and plans[0].generic_plans >= 7 and plans[0].custom_plans == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_search_learns_its_business_s_share_of_the_table_under_row_level_security(database):
    # The app's role may not read pg_stats; the planner's estimates tell a trigram lookup
    # whether reading the business's own list is worth it (kaimen_core.customers.search.route).
    from sqlalchemy import text

    from kaimen_core.customers.search.route import Finder
    from kaimen_core.customers.search.statements import SortKey

    big, small = make_business(), make_business()
    for i in range(40):
        _add(big.owner if i < 30 else small.owner, name=f"Client {i}", phone=f"21255503{i:02d}")
    with database.owner.begin() as connection:
        connection.execute(text("ANALYZE customers"))
    shares = []
    for tenant in (big, small):
        with db.tenant_session(tenant.owner) as session:
            shares.append(Finder(session, tenant.business_id, "client", SortKey("name", False), skip=0,
                                 route=None).share)
    assert shares == [pytest.approx(0.75, abs=0.02), pytest.approx(0.25, abs=0.02)]


@pytest.mark.parametrize(
    ("region", "phone", "typed"),
    [
        ("US", "212 555 0101", "0101"),  # a fragment keeps its leading zero: "101" would find 555-1012 too
        ("US", "212 555 0101", "555-0101"),
        ("GB", "07911 123456", "07911 123"),  # the trunk prefix typed before a fragment is dropped...
        ("GB", "07911 123456", "0044 7911 123"),  # ...and so is the international prefix
        ("US", "+44 7911 123456", "011 44 7911"),
        ("FR", "06 12 34 56 78", "06 12 34"),
    ],
)
def test_a_phone_fragment_typed_in_any_format_finds_the_customer(database, region, phone, typed):
    tenant = make_business()
    _set_region(tenant, region)
    wanted = _add(tenant.owner, name="Ana", phone=phone)
    _add(tenant.owner, name="Other", phone="+1 212 555 1012")
    assert [c.id for c in _search(tenant.owner, query=typed).customers] == [wanted.id], typed
