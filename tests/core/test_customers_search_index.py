"""The search blocks of a large business's name order (kaimen_core.customers.search.blocks):
a search that skims them gives exactly the page the plain definition gives, before and after
the worker folds changes in, a row's pieces do not outlive it in the bits, and the blocks
hold nothing of a customer that can be read."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from kaimen_core import customers, db
from kaimen_core.customers import Route
from kaimen_core.customers.search import blocks
from kaimen_core.models import Customer
from tests.core.test_customers import _add, _expected, _search, make_directory

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database", ["postgres"], indirect=True)]

#: routes that send every search to the blocks (when the business has them)
_SKIM_ROUTES = {
    "skim at once": Route("skim"),
    "a few trigram matches, then skim": Route("collect", few=0),
    "a few trigram matches overflow: reach, or skim": Route("collect", few=6),
    "more trigram matches overflow, out of reach: skim": Route("collect", few=6, reach=2, most=7),
}
_NEEDLES = ("garcia", "ana g", "a r", "client1", "@example.com", "#vip", "5550213", "chloe ruiz", "zzq", "quinn",
            "xylo", "ru", "zy", "#v", "13")


@pytest.fixture
def directory(database):
    """The 41 customers of test_customers' directory, whose names, emails and tags repeat."""
    return make_directory(database)


def _fold(business_id: int, **sizes) -> str:
    with db.system_session() as session:
        return customers.refresh_search_index(session, business_id=business_id, **sizes)


def _build(business_id: int, block_rows: int = blocks.BLOCK_ROWS) -> int:
    with db.system_session() as session:
        return customers.build_search_blocks(session, business_id=business_id, block_rows=block_rows)


def _ready(business_id: int) -> bool:
    with db.system_session() as session:
        return blocks.ready(session, business_id)


def _waiting(business_id: int) -> int:
    with db.system_session() as session:
        return session.connection().execute(
            text("SELECT count(*) FROM customer_search_changes WHERE business_id = :b"), {"b": business_id}).scalar()


def _pieces_stored(business_id: int) -> dict[int, str]:
    with db.system_session() as session:
        found = session.connection().execute(
            text("SELECT piece, blocks::text FROM customer_search_grams WHERE business_id = :b"), {"b": business_id})
        return dict(found.all())


def _starts(business_id: int) -> list[str]:
    """The name of each block's first customer, in block order ("" for block 0)."""
    with db.system_session() as session:
        found = session.connection().execute(text(
            "SELECT coalesce(c.name, '') FROM customer_search_blocks b LEFT JOIN customers c ON c.id = b.start_id "
            "WHERE b.business_id = :b ORDER BY b.block"), {"b": business_id})
        return found.scalars().all()


def _start_ids(business_id: int) -> list[int]:
    with db.system_session() as session:
        return session.connection().execute(text(
            "SELECT start_id FROM customer_search_blocks WHERE business_id = :b ORDER BY block"),
            {"b": business_id}).scalars().all()


def _block_tables_text() -> str:
    """Every row of the search block tables, as text."""
    tables = ("customer_search_blocks", "customer_search_grams", "customer_search_changes")
    with db.system_session() as session:
        return " ".join(row for table in tables for row in session.connection().execute(
            text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars())


def _rename(customer_id: int, name: str) -> None:
    with db.system_session() as session:  # as an edit or an erasure does to the row
        customer = session.get(Customer, customer_id)
        customer.name = name
        session.add(customer)


def _remove(customer_id: int) -> None:
    with db.system_session() as session:
        session.delete(session.get(Customer, customer_id))


def _pages_match(tenant, made, needle: str, sort: str = "name", route: Route | None = None) -> set[str]:
    """Whether the first three pages are the plain definition's; returns the routes that found them."""
    by_id = {c.id: c for c in made}
    expected = _expected(made, needle, sort)
    pages = [_search(tenant.owner, query=needle, sort=sort, page=p, page_size=4, route=route) for p in range(3)]
    assert [c for page in pages for c in page.customers] == [by_id[i] for i in expected[:12]], (needle, sort)
    assert [page.has_next for page in pages] == [len(expected) > 4 * (p + 1) for p in range(3)], (needle, sort)
    return {page.route for page in pages}


#: (block size, dense_lead, dense_blocks): every block on its own; the first three read in
#: one go when one of them may hold the term, the others on their own; every block in one go
_BLOCKS = [(1, 16, 10**6), (4, 16, 10**6), (7, 16, 10**6), (4, 3, 1), (2, 3, 1), (4, 100, 0)]


@pytest.mark.parametrize(("block_rows", "dense_lead", "dense_blocks"), _BLOCKS)
@pytest.mark.parametrize("route", list(_SKIM_ROUTES))
def test_skimming_the_blocks_gives_the_same_pages_before_and_after_a_fold(directory, route, block_rows,
                                                                          dense_lead, dense_blocks):
    forced = replace(_SKIM_ROUTES[route], dense_lead=dense_lead, dense_blocks=dense_blocks)
    tenant, made = directory
    assert _build(tenant.business_id, block_rows) == -(-len(made) // block_rows)
    # Changes the bits do not show yet: a customer before every block, one after, one whose
    # name holds pieces no block has, one renamed and one removed (their old pieces stay set).
    made += [_add(tenant.owner, name="Aaron Garcia", email="client90@example.com"),
             _add(tenant.owner, name="Zed Ruiz", phone="2125559999"),
             _add(tenant.owner, name="Quinn Xylo", tags="vip")]
    _rename(made[5].id, "Chloe Quinn")
    _remove(made[9].id)
    made = _current(tenant, made)
    assert _waiting(tenant.business_id) == 5
    routes = set()
    for needle in _NEEDLES:
        routes |= _pages_match(tenant, made, needle, route=forced)
    assert _fold(tenant.business_id, block_rows=block_rows, blocks_from=10) in ("refreshed", "built")
    assert _waiting(tenant.business_id) == 0
    for needle in _NEEDLES:
        for sort in ("name", "newest"):
            routes |= _pages_match(tenant, made, needle, sort, route=forced)
    assert "skim" in routes, "the blocks were never skimmed"


def _current(tenant, made):
    """The customers as they are stored now (renamed ones with their new name; removed ones gone)."""
    from kaimen_core import customers
    from kaimen_core.exceptions import NotFound

    stored = []
    with db.tenant_session(tenant.owner) as session:
        for customer in made:
            try:
                stored.append(customers.get_customer(session, actor=tenant.owner, customer_id=customer.id))
            except NotFound:
                continue
    return stored


def test_a_renamed_or_removed_customer_leaves_no_piece_of_their_name_in_the_bits(database):
    sizes = {"block_rows": 3, "blocks_from": 5}
    tenant = _business_of(40)  # 14 blocks: a fold touching 3 refreshes them
    quinn = _add(tenant.owner, name="Quinn Xylophone", phone="2125550777")
    wyatt = _add(tenant.owner, name="Wyatt Jubjub", phone="2125550778")
    assert _fold(tenant.business_id, **sizes) == "built"
    assert {*blocks.pieces("xylophone"), *blocks.pieces("jubjub")} <= set(_pieces_stored(tenant.business_id))
    _rename(quinn.id, "Erased customer")  # what an erasure does to the name
    _remove(wyatt.id)
    assert [c.id for c in _search(tenant.owner, query="xylo").customers] == []
    assert _fold(tenant.business_id, **sizes) == "refreshed"
    stored = _pieces_stored(tenant.business_id)
    assert not set(blocks.pieces("xylophone")) & set(stored) and not set(blocks.pieces("jubjub")) & set(stored)
    assert set(blocks.pieces("erased")) <= set(stored) and set("".join(stored.values())) <= {"0", "1"}
    assert [c.id for c in _search(tenant.owner, query="erased").customers] == [quinn.id]


def test_the_fold_builds_refreshes_rebuilds_and_drops_blocks_as_the_business_grows_and_shrinks(database):
    tenant = _business_of(40)
    assert _fold(tenant.business_id, block_rows=4, blocks_from=100) == "small"  # under blocks_from: no blocks
    assert _fold(tenant.business_id, block_rows=4, blocks_from=100) == "unchanged"
    extra = _add(tenant.owner, name="Nina Park", phone="2125559001")
    assert _fold(tenant.business_id, block_rows=4, blocks_from=20) == "built"
    assert _ready(tenant.business_id)
    _rename(extra.id, "Nina Parker")  # the first customer of the last block: that block is cut again
    assert not _ready(tenant.business_id)
    assert _fold(tenant.business_id, block_rows=4, blocks_from=20) == "refreshed"
    assert _ready(tenant.business_id)
    _rename(extra.id, "Nina Park")  # 41 customers in 11 blocks of 1: twice too many
    assert _fold(tenant.business_id, block_rows=1, blocks_from=20) == "built"
    with db.system_session() as session:  # most blocks touched at once: cheaper to rebuild
        session.connection().execute(text("UPDATE customers SET name = name || ' Jr' WHERE business_id = :b"),
                                     {"b": tenant.business_id})
    assert _fold(tenant.business_id, block_rows=1, blocks_from=20) == "built"
    _rename(extra.id, "Nina P.")
    assert _fold(tenant.business_id, block_rows=1, blocks_from=1000) == "dropped"
    assert not _ready(tenant.business_id)


def test_a_search_does_not_skim_while_too_many_changes_wait(database):
    tenant = _business_of(12)
    _build(tenant.business_id, 4)
    _add(tenant.owner, name="Late Comer", phone="2125559002")
    assert _ready(tenant.business_id)  # one change waits
    _add(tenant.owner, name="Later Comer", phone="2125559003")
    with db.system_session() as session:  # as many changes waiting as a search reads at most
        session.connection().execute(text("INSERT INTO customer_search_changes (business_id) "
                                          "SELECT :b FROM generate_series(1, :n)"),
                                     {"b": tenant.business_id, "n": blocks.MAX_CHANGES - 2})
    assert not _ready(tenant.business_id)
    page = _search(tenant.owner, query="comer", route=Route("reach"))
    assert [c.name for c in page.customers] == ["Late Comer", "Later Comer"] and page.route != "skim"


def test_a_block_whose_first_customer_moved_waits_for_the_fold_which_cuts_it_again(database):
    tenant = _business_of(40)
    _build(tenant.business_id, 4)
    first = _start_ids(tenant.business_id)[1]  # Client 04, whose name bounds blocks 0 and 1
    _rename(first, "Client 00a")
    assert not _ready(tenant.business_id)
    names = ["Client 00", "Client 00a", *(f"Client 0{i}" for i in (1, 2, 3, 5, 6, 7, 8, 9))]
    page = _search(tenant.owner, query="client 0", route=Route("reach"))
    assert [c.name for c in page.customers] == names and page.route != "skim"
    page = _search(tenant.owner, query="client 0", route=Route("skim"))  # the skim reads the sort index itself
    assert [c.name for c in page.customers] == names and page.route == "skim"
    assert _fold(tenant.business_id, block_rows=4, blocks_from=5) == "refreshed"
    # blocks 0 and 1 cut again evenly between the start of block 0 and the start of block 2
    assert _ready(tenant.business_id) and _starts(tenant.business_id)[:3] == ["", "Client 03", "Client 08"]
    page = _search(tenant.owner, query="client 0", route=Route("reach"))
    assert [c.name for c in page.customers] == names and page.route == "skim"


def test_the_worker_folds_changes_every_minute(database, monkeypatch):
    from kaimen_core.models import Job
    from kaimen_core.worker import Worker
    from tests.factories import rows

    tenant = _business_of(3)
    worker = Worker()
    worker.schedule_periodic_jobs()
    assert _waiting(tenant.business_id) == 3
    [job] = rows(Job, Job.kind == "search_index", Job.status == "queued")
    worker.run_once()
    assert _waiting(tenant.business_id) == 0  # a small business: nothing to build, nothing kept
    [done] = rows(Job, Job.id == job.id)
    [following] = rows(Job, Job.kind == "search_index", Job.status == "queued")
    assert done.status == "done" and (following.run_at - job.run_at).total_seconds() >= 60


def _business_of(customers: int):
    from tests.factories import make_business

    tenant = make_business()
    for i in range(customers):
        _add(tenant.owner, name=f"Client {i:02d}", phone=f"21255504{i:02d}")
    return tenant


def test_the_fold_starts_no_block_at_a_customer_renamed_since(database):
    # Cut evenly, block 1 would start at the renamed customer, whose change row then
    # moves that bound again: the fold picks among customers whose names have held.
    tenant = _business_of(40)
    _build(tenant.business_id, 4)
    _rename(_start_ids(tenant.business_id)[1], "Client 03a")  # Client 04
    assert _fold(tenant.business_id, block_rows=4, blocks_from=5) == "refreshed"
    assert _ready(tenant.business_id) and _starts(tenant.business_id)[:3] == ["", "Client 03", "Client 08"]
    assert _waiting(tenant.business_id) == 0
    page = _search(tenant.owner, query="client 03", route=Route("reach"))
    assert [c.name for c in page.customers] == ["Client 03", "Client 03a"] and page.route == "skim"


def test_pieces_are_hashed_alike_in_python_and_in_the_database(database):
    words = ["zoe", "ana gar", "zoë", "\U0001d538x1", "#vip", "1212555", "zo", "\U0001d538\U0001d539"]
    with db.system_session() as session:
        stored = [sorted(session.connection().execute(
            text("SELECT DISTINCT customer_search_piece(substr(:w, i, least(length(:w), 3))) "
                 "FROM generate_series(1, length(:w) - least(length(:w), 3) + 1) i"), {"w": word}).scalars())
            for word in words]
    assert stored == [blocks.pieces(word) for word in words]
    assert len(blocks.pieces("zo")) == 1 and blocks.pieces("z") == []


def test_an_erasure_leaves_nothing_of_the_customer_in_the_blocks_before_its_verification(database):
    from kaimen_core import privacy
    from tests.core.test_privacy_erasure import EMAIL, NAME, PHONE, FakeProviders, _deletion_request, _seed

    tenant = _business_of(0)
    _seed(tenant)  # Maria Lopez, who is erased, and Ava Chen
    for name in ("Bo Aaron", "Cy Bell", "Di Cole", "Mo Chase", *(f"Zed {i}" for i in range(10))):
        _add(tenant.owner, name=name)
    _build(tenant.business_id, 2)
    before = _starts(tenant.business_id)
    assert before[:4] == ["", "Cy Bell", "Maria Lopez", "Zed 0"]  # block 2: Maria, Mo; 9 blocks
    assert set(blocks.pieces("lopez")) <= set(_pieces_stored(tenant.business_id))
    request_id, erasers = _deletion_request(tenant), FakeProviders().erasers
    privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=erasers, stop_after="database")
    # as the database step commits, before the worker's next fold: the same blocks (not
    # built again), blocks 1 and 2 cut again between Cy Bell and Zed 0, no piece of her left
    assert _starts(tenant.business_id) == ["", "Cy Bell", "Di Cole", *before[3:]]
    assert not set(blocks.pieces("lopez")) & set(_pieces_stored(tenant.business_id))
    stored = _block_tables_text().lower()
    for trace in (NAME, EMAIL, PHONE, PHONE.lstrip("+"), "lopez", "maria"):
        assert trace.lower() not in stored, trace
    result = privacy.run_erasure(actor=tenant.owner, request_id=request_id, erasers=erasers)
    assert result.status == "completed" and result.certificate["verification"]["hits"] == 0
    assert _search(tenant.owner, query="lopez").customers == []
    assert [c.name for c in _search(tenant.owner, query="mo c", route=Route("skim")).customers] == ["Mo Chase"]


def test_a_search_that_finds_the_blocks_gone_reads_the_sort_index(directory):
    # A fold may drop the blocks (the business shrank) between asking whether there are
    # any and skimming them: the skim then reads the sort index itself, in the same snapshot.
    tenant, made = directory
    assert _fold(tenant.business_id) == "small"  # no blocks, and no changes waiting either
    for needle in ("garcia", "a r", "#vip", "zzq"):
        assert _pages_match(tenant, made, needle, route=Route("skim")) == {"skim"}


def test_one_business_s_failing_fold_does_not_stop_the_others(database, monkeypatch):
    first, second = _business_of(2), _business_of(2)
    from kaimen_core.customers.search import upkeep

    fold = upkeep.refresh_search_index

    def failing(session, *, business_id):
        if business_id == first.business_id:
            raise RuntimeError("the business closed meanwhile")
        return fold(session, business_id=business_id)

    monkeypatch.setattr(upkeep, "refresh_search_index", failing)
    done = upkeep.refresh_search_indexes()
    assert done[first.business_id] == "failed" and done[second.business_id] == "small"
    assert _waiting(first.business_id) == 2 and _waiting(second.business_id) == 0


def test_blocks_a_day_old_are_built_again_at_the_next_change(database):
    sizes = {"block_rows": 4, "blocks_from": 10}
    tenant = _business_of(40)
    assert _fold(tenant.business_id, **sizes) == "built"
    customer = _add(tenant.owner, name="Nina Park", phone="2125559001")
    assert _fold(tenant.business_id, **sizes) == "refreshed"
    with database.owner.begin() as connection:
        connection.execute(text("UPDATE customer_search_blocks SET built_at = now() - interval '25 hours' "
                                "WHERE business_id = :b"), {"b": tenant.business_id})
    _rename(customer.id, "Nina Parker")
    assert _fold(tenant.business_id, **sizes) == "built"


def test_a_two_letter_term_is_found_at_the_very_end_of_a_row(database):
    tenant = _business_of(6)
    tagged = _add(tenant.owner, name="Quinn Ray", tags="qz")  # "... #qz": "qz" ends the row
    _build(tenant.business_id, 2)
    assert _waiting(tenant.business_id) == 0
    for term in ("qz", "#q"):
        page = _search(tenant.owner, query=term, route=Route("skim"))
        assert [c.id for c in page.customers] == [tagged.id] and page.route == "skim"


def test_a_block_s_first_customer_keeps_their_place_when_only_their_email_changes(database):
    tenant = _business_of(40)
    _build(tenant.business_id, 3)
    first = _start_ids(tenant.business_id)[5]
    with db.system_session() as session:
        customer = session.get(Customer, first)
        customer.email = "quartz.zephyr@example.com"
        session.add(customer)
    assert _ready(tenant.business_id)  # the block's bound has not moved
    assert _fold(tenant.business_id, block_rows=3, blocks_from=5) == "refreshed"
    assert _start_ids(tenant.business_id)[5] == first
    page = _search(tenant.owner, query="quartz.ze", route=Route("skim", dense_blocks=10**6))
    assert [c.id for c in page.customers] == [first] and page.route == "skim"
