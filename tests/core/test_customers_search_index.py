"""The search blocks of a large business's name order (kaimen_core.customers._search_index):
a search that skims them gives exactly the page the plain definition gives, before and after
the worker folds changes in, and a row's pieces do not outlive it in the bits."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kaimen_core import db
from kaimen_core.customers import _search as engine
from kaimen_core.customers import _search_index as index
from kaimen_core.customers import _search_upkeep as upkeep
from kaimen_core.models import Customer
from tests.core.test_customers import _RARE, _add, _expected, _search, make_directory

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database", ["postgres"], indirect=True)]

#: module settings that send every search to the blocks (when the business has them)
_SKIM_ROUTES = {
    "skim at once": {"SAMPLE_ROWS": 4, "_COMMON": 1},
    "a few trigram matches, then skim": {**_RARE, "FEW_MATCHES": 0},
    "a few trigram matches overflow: reach, or skim": {**_RARE, "FEW_MATCHES": 6},
    "more trigram matches overflow, out of reach: skim": {**_RARE, "FEW_MATCHES": 6, "WALK_REACH": 2,
                                                          "RARE_MATCHES": 7},
}
_NEEDLES = ("garcia", "ana g", "a r", "client1", "@example.com", "#vip", "5550213", "chloe ruiz", "zzq", "quinn",
            "xylo", "ru", "zy", "#v", "13")


@pytest.fixture
def directory(database):
    """The 41 customers of test_customers' directory, whose names, emails and tags repeat."""
    return make_directory(database)


def _fold(business_id: int) -> str:
    with db.system_session() as session:
        return upkeep.refresh_search_index(session, business_id=business_id)


def _build(business_id: int) -> int:
    with db.system_session() as session:
        return upkeep.build(session, business_id=business_id)


def _waiting(business_id: int) -> int:
    with db.system_session() as session:
        return session.connection().execute(
            text("SELECT count(*) FROM customer_search_changes WHERE business_id = :b"), {"b": business_id}).scalar()


def _pieces_stored(business_id: int) -> dict[int, str]:
    with db.system_session() as session:
        found = session.connection().execute(
            text("SELECT piece, blocks::text FROM customer_search_grams WHERE business_id = :b"), {"b": business_id})
        return dict(found.all())


def _starts(business_id: int) -> list[tuple[str, int]]:
    with db.system_session() as session:
        found = session.connection().execute(text(
            "SELECT start_name, start_id FROM customer_search_blocks WHERE business_id = :b ORDER BY block"),
            {"b": business_id})
        return [tuple(row) for row in found.all()]


def _rename(customer_id: int, name: str) -> None:
    with db.system_session() as session:  # as an edit or an erasure does to the row
        customer = session.get(Customer, customer_id)
        customer.name = name
        session.add(customer)


def _remove(customer_id: int) -> None:
    with db.system_session() as session:
        session.delete(session.get(Customer, customer_id))


def _pages_match(tenant, made, needle: str, sort: str = "name") -> None:
    by_id = {c.id: c for c in made}
    expected = _expected(made, needle, sort)
    pages = [_search(tenant.owner, query=needle, sort=sort, page=p, page_size=4) for p in range(3)]
    assert [c for page in pages for c in page.customers] == [by_id[i] for i in expected[:12]], (needle, sort)
    assert [page.has_next for page in pages] == [len(expected) > 4 * (p + 1) for p in range(3)], (needle, sort)


#: (block size, dense_of, dense): every block on its own; the first three read in one go
#: when one of them may hold the term, the others on their own; every block in one go
_BLOCKS = [(1, 16, 10**6), (4, 16, 10**6), (7, 16, 10**6), (4, 3, 1), (2, 3, 1), (4, 100, 0)]


@pytest.mark.parametrize(("block_rows", "dense_of", "dense"), _BLOCKS)
@pytest.mark.parametrize("route", list(_SKIM_ROUTES))
def test_skimming_the_blocks_gives_the_same_pages_before_and_after_a_fold(directory, monkeypatch, route,
                                                                          block_rows, dense_of, dense):
    for name, value in _SKIM_ROUTES[route].items():
        monkeypatch.setattr(engine, name, value)
    monkeypatch.setattr(index, "BLOCK_ROWS", block_rows)
    monkeypatch.setattr(index, "DENSE_OF", dense_of)
    monkeypatch.setattr(index, "DENSE", dense)
    monkeypatch.setattr(index, "INDEX_FROM", 10)
    skimmed = []
    skim = engine._Substring._skim
    monkeypatch.setattr(engine._Substring, "_skim", lambda self, wanted: skimmed.append(skim(self, wanted))
                        or skimmed[-1])
    tenant, made = directory
    assert _build(tenant.business_id) == -(-len(made) // block_rows)
    # Changes the bits do not show yet: a customer before every block, one after, one whose
    # name holds pieces no block has, one renamed and one removed (their old pieces stay set).
    made += [_add(tenant.owner, name="Aaron Garcia", email="client90@example.com"),
             _add(tenant.owner, name="Zed Ruiz", phone="2125559999"),
             _add(tenant.owner, name="Quinn Xylo", tags="vip")]
    _rename(made[5].id, "Chloe Quinn")
    _remove(made[9].id)
    made = _current(tenant, made)
    assert _waiting(tenant.business_id) == 5
    for needle in _NEEDLES:
        _pages_match(tenant, made, needle)
    assert any(ids is not None for ids in skimmed), "the blocks were never skimmed"
    assert _fold(tenant.business_id) in ("refreshed", "built")
    assert _waiting(tenant.business_id) == 0
    for needle in _NEEDLES:
        for sort in ("name", "newest"):
            _pages_match(tenant, made, needle, sort)


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


def test_a_renamed_or_removed_customer_leaves_no_piece_of_their_name_in_the_bits(database, monkeypatch):
    monkeypatch.setattr(index, "BLOCK_ROWS", 3)
    monkeypatch.setattr(index, "INDEX_FROM", 5)
    tenant = _business_of(40)  # 14 blocks: a fold touching 3 refreshes them
    quinn = _add(tenant.owner, name="Quinn Xylophone", phone="2125550777")
    wyatt = _add(tenant.owner, name="Wyatt Jubjub", phone="2125550778")
    assert _fold(tenant.business_id) == "built"
    assert {*index.pieces("xylophone"), *index.pieces("jubjub")} <= set(_pieces_stored(tenant.business_id))
    _rename(quinn.id, "Erased customer")  # what an erasure does to the name
    _remove(wyatt.id)
    assert [c.id for c in _search(tenant.owner, query="xylo").customers] == []
    assert _fold(tenant.business_id) == "refreshed"
    stored = _pieces_stored(tenant.business_id)
    assert not set(index.pieces("xylophone")) & set(stored) and not set(index.pieces("jubjub")) & set(stored)
    assert set(index.pieces("erased")) <= set(stored) and set("".join(stored.values())) <= {"0", "1"}
    assert [c.id for c in _search(tenant.owner, query="erased").customers] == [quinn.id]


def test_the_fold_builds_refreshes_rebuilds_and_drops_blocks_as_the_business_grows_and_shrinks(database,
                                                                                                monkeypatch):
    monkeypatch.setattr(index, "BLOCK_ROWS", 4)
    monkeypatch.setattr(index, "INDEX_FROM", 100)
    tenant = _business_of(40)
    assert _fold(tenant.business_id) == "small"  # under INDEX_FROM: no blocks
    assert _fold(tenant.business_id) == "unchanged"
    monkeypatch.setattr(index, "INDEX_FROM", 20)
    extra = _add(tenant.owner, name="Nina Park", phone="2125559001")
    assert _fold(tenant.business_id) == "built"
    with db.system_session() as session:
        assert index.ready(session, tenant.business_id)
    _rename(extra.id, "Nina Parker")
    assert _fold(tenant.business_id) == "refreshed"
    monkeypatch.setattr(index, "BLOCK_ROWS", 1)  # 41 customers in 11 blocks of 1: twice too many
    _rename(extra.id, "Nina Park")
    assert _fold(tenant.business_id) == "built"
    with db.system_session() as session:  # most blocks touched at once: cheaper to rebuild
        session.connection().execute(text("UPDATE customers SET name = name || ' Jr' WHERE business_id = :b"),
                                     {"b": tenant.business_id})
    assert _fold(tenant.business_id) == "built"
    monkeypatch.setattr(index, "INDEX_FROM", 1000)
    _rename(extra.id, "Nina P.")
    assert _fold(tenant.business_id) == "dropped"
    with db.system_session() as session:
        assert not index.ready(session, tenant.business_id)


def test_a_search_does_not_skim_while_too_many_changes_wait(database, monkeypatch):
    monkeypatch.setattr(index, "BLOCK_ROWS", 4)
    tenant = _business_of(12)
    _build(tenant.business_id)
    monkeypatch.setattr(index, "MAX_CHANGES", 2)
    _add(tenant.owner, name="Late Comer", phone="2125559002")
    with db.system_session() as session:
        assert index.ready(session, tenant.business_id)  # one change waits
    _add(tenant.owner, name="Later Comer", phone="2125559003")
    with db.system_session() as session:
        assert not index.ready(session, tenant.business_id)
    assert [c.name for c in _search(tenant.owner, query="comer").customers] == ["Late Comer", "Later Comer"]


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


def test_pieces_are_hashed_alike_in_python_and_in_the_database(database):
    words = ["zoe", "ana gar", "zoë", "\U0001d538x1", "#vip", "1212555", "zo", "\U0001d538\U0001d539"]
    with db.system_session() as session:
        stored = [sorted(session.connection().execute(
            text("SELECT DISTINCT customer_search_piece(substr(:w, i, least(length(:w), 3))) "
                 "FROM generate_series(1, length(:w) - least(length(:w), 3) + 1) i"), {"w": word}).scalars())
            for word in words]
    assert stored == [index.pieces(word) for word in words]
    assert len(index.pieces("zo")) == 1 and index.pieces("z") == []


def test_an_erasure_leaves_no_name_in_the_blocks_before_its_verification(database, monkeypatch):
    from kaimen_core import privacy
    from tests.core.test_privacy_erasure import FakeProviders, _deletion_request, _seed

    monkeypatch.setattr(index, "BLOCK_ROWS", 2)
    monkeypatch.setattr(index, "INDEX_FROM", 3)
    tenant = _business_of(0)
    _seed(tenant)  # Maria Lopez, who is erased, and Ava Chen
    for name in ("Bo Aaron", "Cy Bell", "Di Cole", "Mo Chase", *(f"Zed {i}" for i in range(10))):
        _add(tenant.owner, name=name)
    _build(tenant.business_id)
    before = [name for name, _ in _starts(tenant.business_id)]
    assert before[:4] == ["", "Cy Bell", "Maria Lopez", "Zed 0"]  # block 2: Maria, Mo; 9 blocks
    result = privacy.run_erasure(actor=tenant.owner, request_id=_deletion_request(tenant),
                                 erasers=FakeProviders().erasers)
    assert result.status == "completed" and result.certificate["verification"]["hits"] == 0
    # the same blocks (not built again), block 2 now starting at Mo
    assert [name for name, _ in _starts(tenant.business_id)] == ["", "Cy Bell", "Mo Chase", *before[3:]]
    assert not set(index.pieces("lopez")) & set(_pieces_stored(tenant.business_id))
    assert _search(tenant.owner, query="lopez").customers == []
    assert [c.name for c in _search(tenant.owner, query="mo c").customers] == ["Mo Chase"]


def test_a_search_that_finds_the_blocks_gone_reads_the_sort_index(directory, monkeypatch):
    # A fold may drop the blocks (the business shrank) between asking whether there are
    # any and skimming them: the skim then reads the sort index itself, in the same snapshot.
    monkeypatch.setattr(engine, "SAMPLE_ROWS", 4)
    monkeypatch.setattr(engine, "_COMMON", 1)
    monkeypatch.setattr(engine, "ready", lambda session, business_id: True)
    tenant, made = directory
    assert _fold(tenant.business_id) == "small"  # no blocks, and no changes waiting either
    for needle in ("garcia", "a r", "#vip", "zzq"):
        _pages_match(tenant, made, needle)


def test_one_business_s_failing_fold_does_not_stop_the_others(database, monkeypatch):
    first, second = _business_of(2), _business_of(2)
    fold = upkeep.refresh_search_index

    def failing(session, *, business_id):
        if business_id == first.business_id:
            raise RuntimeError("the business closed meanwhile")
        return fold(session, business_id=business_id)

    monkeypatch.setattr(upkeep, "refresh_search_index", failing)
    done = upkeep.refresh_search_indexes()
    assert done[first.business_id] == "failed" and done[second.business_id] == "small"
    assert _waiting(first.business_id) == 2 and _waiting(second.business_id) == 0


def test_blocks_a_day_old_are_built_again_at_the_next_change(database, monkeypatch):
    monkeypatch.setattr(index, "BLOCK_ROWS", 4)
    monkeypatch.setattr(index, "INDEX_FROM", 10)
    tenant = _business_of(40)
    assert _fold(tenant.business_id) == "built"
    customer = _add(tenant.owner, name="Nina Park", phone="2125559001")
    assert _fold(tenant.business_id) == "refreshed"
    with database.owner.begin() as connection:
        connection.execute(text("UPDATE customer_search_blocks SET built_at = now() - interval '25 hours' "
                                "WHERE business_id = :b"), {"b": tenant.business_id})
    _rename(customer.id, "Nina Parker")
    assert _fold(tenant.business_id) == "built"


def test_a_two_letter_term_is_found_at_the_very_end_of_a_row(database, monkeypatch):
    monkeypatch.setattr(engine, "SAMPLE_ROWS", 4)
    monkeypatch.setattr(engine, "_COMMON", 1)  # skim at once
    monkeypatch.setattr(index, "BLOCK_ROWS", 2)
    tenant = _business_of(6)
    tagged = _add(tenant.owner, name="Quinn Ray", tags="qz")  # "... #qz": "qz" ends the row
    _build(tenant.business_id)
    assert _waiting(tenant.business_id) == 0
    assert [c.id for c in _search(tenant.owner, query="qz").customers] == [tagged.id]
    assert [c.id for c in _search(tenant.owner, query="#q").customers] == [tagged.id]


def test_a_block_s_first_customer_keeps_their_place_when_only_their_email_changes(database, monkeypatch):
    monkeypatch.setattr(engine, "SAMPLE_ROWS", 4)
    monkeypatch.setattr(engine, "_COMMON", 1)  # skim at once
    monkeypatch.setattr(index, "BLOCK_ROWS", 3)
    monkeypatch.setattr(index, "INDEX_FROM", 5)
    monkeypatch.setattr(index, "DENSE", 10**6)
    tenant = _business_of(40)
    _build(tenant.business_id)
    name, first = _starts(tenant.business_id)[5]
    with db.system_session() as session:
        customer = session.get(Customer, first)
        customer.email = "quartz.zephyr@example.com"
        session.add(customer)
    assert _fold(tenant.business_id) == "refreshed"
    assert _starts(tenant.business_id)[5] == (name, first)
    assert [c.id for c in _search(tenant.owner, query="quartz.ze").customers] == [first]
