"""Searching, sorting and paging the customer directory on the server.

A page never loads the whole table: :func:`search_customers` asks for one page plus one
row (to know whether there is a next page). A whole phone number is one entry of an index;
browsing on PostgreSQL reads the ``(business, key, id)`` indexes in order. A substring
search on PostgreSQL chooses between two indexes, because no single one is quick for every
term (every route gives exactly the same page):

* the **sort index** ``(business, key, id) INCLUDE (search_text)`` read in order, keeping
  the matches (index-only): quick when matches are common, since a page fills early;
* the **trigram index** (pg_trgm GIN): every match is found and only the matches are
  sorted: quick when they are few.

A sample of the business's newest rows (``SAMPLE_ROWS``) decides the order:

* found three times or more in the sample, the term is common: the first ``WALK_REACH``
  entries of the sort index are read (one statement, bounded by entries read, not by
  matches); if they do not fill the page, the trigram index collects the matches;
* not found, or found once or twice with a rare piece (one customer's email, a phone
  fragment), the term is rare: the trigram index collects up to ``FEW_MATCHES`` matches,
  looked up with only the part of the term whose trigrams are not in most rows (a term such
  as ``customer777`` would otherwise read the whole lists for ``cus``, ``ust``... to find one
  row). More, and the term is not rare after all (``777`` in 0.4 % of phones): the sort
  index is read as for a common term, then up to ``RARE_MATCHES`` are collected;
* found once or twice with only common pieces (``ana gar``), the term may be a name in one
  row of 500, and its lookup would read long lists: the sort index is read first.

Whatever the route, more than ``RARE_MATCHES`` matches falls back to reading the sort index
to the page's end. The trigram index's first column is the business; a lookup leaves it
out when the business holds most of the table (see ``_Substring._lookup``).

SQLite has no trigram index: its search reads the business's rows in sort order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial

from sqlalchemy import Integer, bindparam, func, literal, literal_column, text, union_all
from sqlmodel import Session, col, select

from kaimen_core.actors import Actor
from kaimen_core.customers._directory import _require_member, business_region, contains, search_condition, search_needle
from kaimen_core.customers._search_terms import indexable, rare_part, rarest_share, rows_holding
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic

__all__ = ["FEW_MATCHES", "PAGE_SIZE", "RARE_MATCHES", "SAMPLE_ROWS", "SORTS", "WALK_REACH", "CustomerPage",
           "search_customers"]

PAGE_SIZE = 50
#: Newest rows of the business that tell a common term from a rare one.
SAMPLE_ROWS = 1000
#: Matches in the sample that make a term common (3 in 1,000: a page of 50 within ~17,000 rows).
_COMMON = 3
#: Entries of the sort index read at most before the trigram index is asked (at a million
#: customers, 32,000 entries take about 7 ms: a term in 0.16 % of rows fills a page of 50).
WALK_REACH = 32000
#: Matches up to which the trigram index's matches are sorted; beyond, the sort index is read.
RARE_MATCHES = 2000
#: A rare term's lookup collects at most this many first; more, and the sort index is read
#: before collecting up to RARE_MATCHES (0.5 ms to learn it at a million customers).
FEW_MATCHES = 200
#: A trigram lookup is quick when one of its three-letter pieces is in at most this share
#: of the sample's rows (the index steps through the other lists along the shortest one);
#: a term found once or twice in the sample whose lookup is not quick reads the sort index first.
_SHORT_LIST = 0.01
#: A table row read and dropped costs about as much as this many entries of an index list
#: (0.8 µs against 0.003 µs, measured at a million customers).
_ROW_PER_LIST_ENTRY = 270
#: Rows whose search column is longer are in small sort indexes of their own (a btree
#: entry holds at most 2,704 bytes; migration 0007).
SHORT_TEXT_BYTES = 1800
#: Sort choices: label -> (column, descending).
SORTS = {
    "name": ("name", False),
    "newest": ("created_at", True),
    "recently_updated": ("updated_at", True),
}


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of customers, and whether another follows."""

    customers: list[CustomerPublic]
    page: int
    page_size: int
    has_next: bool


def search_customers(
    session: Session,
    *,
    actor: Actor,
    query: str | None = None,
    sort: str = "name",
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> CustomerPage:
    """One page of the business's customers matching ``query``, sorted by ``sort``."""
    _require_member(actor)
    if sort not in SORTS:
        raise ValidationError(f"Unknown sort {sort!r}.", field="sort")
    page = max(int(page), 0)
    page_size = max(1, min(int(page_size), 200))
    region = business_region(session, actor=actor)
    sort_key = _SortKey(*SORTS[sort])
    number, needle = search_needle(query, region)
    postgres = session.connection().dialect.name == "postgresql"
    first = page * page_size
    if needle and postgres:
        # the ids of the matches up to the end of the page, and one more
        ids = _Substring(session, actor.business_id, needle, sort_key).first(first + page_size + 1)
        shown = _rows_in_order(session, actor.business_id, ids[first:first + page_size])
        has_next = len(ids) > first + page_size
    else:
        if postgres and not number:
            found = _browse(session, actor.business_id, sort_key, first, page_size + 1)
        else:
            where = (Customer.business_id == actor.business_id, search_condition(query, region))
            found = session.exec(select(Customer).where(*where).order_by(*sort_key.order(Customer))
                                 .offset(first).limit(page_size + 1)).all()
        shown = [CustomerPublic.model_validate(c, from_attributes=True) for c in found[:page_size]]
        has_next = len(found) > page_size
    return CustomerPage(customers=shown, page=page, page_size=page_size, has_next=has_next)


@dataclass(frozen=True, slots=True)
class _SortKey:
    column: str
    descending: bool

    def order(self, source, key=None) -> tuple:
        """ORDER BY for the sort key (``key`` when given, else ``source``'s column) and the id."""
        key = getattr(source, self.column) if key is None else key
        if self.descending:
            return col(key).desc(), col(source.id).desc()
        return col(key).asc(), col(source.id).asc()



#: Planner settings: read the sort index in order (the planner cannot tell how common a
#: term is and would rather sort the whole business); or the trigram index only. The
#: costs of the paths turned off would otherwise set off JIT compilation.
_SORT_INDEX = {"jit": "off", "enable_seqscan": "off", "enable_bitmapscan": "off", "enable_indexscan": "on",
               "enable_sort": "off", "enable_incremental_sort": "off", "max_parallel_workers_per_gather": "0"}
_TRIGRAM_INDEX = {"jit": "off", "enable_seqscan": "off", "enable_bitmapscan": "on", "enable_indexscan": "off",
                  "enable_sort": "on", "enable_incremental_sort": "on", "max_parallel_workers_per_gather": "0"}


class _Substring:
    """PostgreSQL: the ids of a substring search's first matches, in sort order."""

    def __init__(self, session: Session, business_id: int, needle: str, sort_key: _SortKey) -> None:
        self.session, self.business_id, self.needle, self.sort_key = session, business_id, needle, sort_key
        self.in_business = Customer.business_id == business_id
        # strpos for reading the sort indexes (a fifth quicker than LIKE); LIKE for the trigram index
        self.matches = func.strpos(Customer.search_text, needle) > 0
        self.order = sort_key.order(Customer)
        self.short, self.long = _short_and_long()
        self.share: float | None = None  # the business's share of the table, once asked

    def first(self, wanted: int) -> list[int]:
        with _planner(self.session, _SORT_INDEX) as use:
            sample = self.session.exec(select(Customer.search_text).where(self.in_business, self.short)
                                       .order_by(col(Customer.created_at).desc(), col(Customer.id).desc())
                                       .limit(SAMPLE_ROWS)).all()
            if len(sample) < SAMPLE_ROWS:  # the sample is the whole business
                return self._walk(wanted)
            hits = rows_holding(self.needle, sample)
            if hits >= _COMMON:
                probe = self.needle if indexable(self.needle) else None
                tries = [self._reach, partial(self._collect, probe, RARE_MATCHES, sample)]
            else:
                probe = rare_part(self.needle, sample)
                # Found once or twice: one customer's email, or a name in one row of 500? A
                # lookup whose pieces are all common reads long lists: read the sort index first.
                if hits and (probe is None or rarest_share(probe, sample) > _SHORT_LIST):
                    tries = [self._reach, partial(self._collect, probe, RARE_MATCHES, sample)]
                else:  # a short list: collect a few; more, and the term is not rare after all
                    tries = [partial(self._collect, probe, FEW_MATCHES, sample), self._reach,
                             partial(self._collect, probe, RARE_MATCHES, sample)]
            for attempt in tries:
                ids = attempt(wanted, use)
                if ids is not None:
                    return ids
            return self._walk(wanted)

    def _walk(self, wanted: int) -> list[int]:
        """The first ``wanted`` matches in sort order: the short rows' covering index and the
        long rows' own index, each read until it has them, merged in order."""
        key = getattr(Customer, self.sort_key.column)
        both = union_all(*(select(Customer.id, key.label("key")).where(self.in_business, size, self.matches)
                           .order_by(*self.order).limit(wanted) for size in (self.short, self.long))).subquery("m")
        return list(self.session.exec(select(both.c.id).order_by(*self.sort_key.order(both.c, both.c.key))
                                      .limit(wanted)).all())

    def _reach(self, wanted: int, _use) -> list[int] | None:
        """The first ``wanted`` matches among the first ``WALK_REACH`` entries of the covering
        index (read up to that many, then kept when they match: the bound is on entries read,
        not on matches); None when they are fewer. Long rows are few: all are read."""
        key = getattr(Customer, self.sort_key.column)
        head = (select(Customer.id, key.label("key"), Customer.search_text).where(self.in_business, self.short)
                .order_by(*self.order).limit(WALK_REACH).subquery("head"))
        short = (select(head.c.id, head.c.key, literal(True).label("short"))
                 .where(func.strpos(head.c.search_text, self.needle) > 0)
                 .order_by(*self.sort_key.order(head.c, head.c.key)).limit(wanted))
        long = (select(Customer.id, key.label("key"), literal(False).label("short"))
                .where(self.in_business, self.long, self.matches).order_by(*self.order).limit(wanted))
        both = union_all(short, long).subquery("s")
        in_order = self.sort_key.order(both.c, both.c.key)
        rows = self.session.exec(select(both.c.id, both.c.short).order_by(*in_order)).all()
        if sum(1 for _, in_short in rows if in_short) < wanted:
            return None  # the reach ended first: long rows past its end may not come next
        return [i for i, _ in rows[:wanted]]

    def _lookup(self, probe: str, sample: list[str]):
        """The business condition of a trigram lookup. The index's first column is the
        business: looking it up reads the business's whole list (3 ms at a million rows).
        Left out, the lookup reads the probe's lists for every business and the table's rows
        of the others are read and dropped. Chosen by which costs less: the business's share
        of the table (the planner's estimates) against the probe's share of the sample."""
        if self.share is None:
            self.share = _business_share(self.session, self.business_id)
        share = self.share
        others = max(rarest_share(probe, sample), 0.5 / len(sample)) * (1 - share)
        if others * _ROW_PER_LIST_ENTRY < share:
            return Customer.business_id + 0 == self.business_id  # not an index condition
        return self.in_business

    def _collect(self, probe: str | None, most: int, sample: list[str], wanted: int, use) -> list[int] | None:
        """All matches through the trigram index (looked up with ``probe``, a part of the
        term), sorted; None when there are more than ``most`` (or no probe)."""
        if probe is None:
            return None
        use(_TRIGRAM_INDEX)
        try:
            return self._collected(probe, most, self._lookup(probe, sample), wanted)
        finally:
            use(_SORT_INDEX)

    def _collected(self, probe: str, most: int, in_business, wanted: int) -> list[int] | None:
        # A part of the term is looked up; the whole term is then checked on each row found
        # (strpos, which the trigram index does not answer, so its lists are not read).
        exact = () if probe == self.needle else (func.strpos(Customer.search_text, self.needle) > 0,)
        key = getattr(Customer, self.sort_key.column)
        hits = (select(Customer.id, key.label("key"))
                .where(in_business, contains(col(Customer.search_text), probe), *exact)
                .limit(most + 1).cte("hits").prefix_with("MATERIALIZED"))
        total = select(func.count()).select_from(hits).scalar_subquery()
        rows = self.session.exec(select(hits.c.id, total).order_by(*self.sort_key.order(hits.c, hits.c.key))
                                 .limit(wanted)).all()
        if rows and rows[0][1] > most:
            return None
        return [row[0] for row in rows]


_SHARE = text("EXPLAIN (FORMAT JSON) SELECT 1 FROM customers WHERE business_id = :business "
              "UNION ALL SELECT 1 FROM customers")


def _business_share(session: Session, business_id: int) -> float:
    """The business's share of the customers table, from the planner's statistics (the
    app's role may not read pg_stats; both estimates are scaled alike by row-level security)."""
    [[plan]] = session.exec(_SHARE, params={"business": business_id}).one()
    rows = [part.get("Plan Rows", 0) for part in plan["Plan"].get("Plans", ())
            if part.get("Parent Relationship") == "Member"]
    if len(rows) != 2 or not rows[1]:  # a plan of another shape: keep to the business's list
        return 0.0
    return min(rows[0] / rows[1], 1.0)


def _short_and_long() -> tuple:
    """Rows whose search column is in the sort indexes that carry it, and the others (the
    bound a constant in the SQL text, so that the planner matches the partial indexes)."""
    size, bound = func.octet_length(Customer.search_text), literal_column(str(SHORT_TEXT_BYTES))
    return size <= bound, size > bound


def _browse(session: Session, business_id: int, sort_key: _SortKey, offset: int, limit: int) -> list[Customer]:
    """PostgreSQL: customers ``offset`` to ``offset + limit`` in sort order, read through the
    ``(business, key, id)`` indexes (short and long search columns apart, merged in order):
    the ``(business, key)`` index alone reads every row that shares the page's last key
    (a common name) to sort them by id."""
    found = session.exec(_browsing(sort_key), params={"business": business_id, "offset": offset, "limit": limit})
    return list(found.scalars())


@cache
def _browsing(sort_key: _SortKey):
    """The statement :func:`_browse` runs, built once per sort (its union's columns take a
    while to set up)."""
    business, offset, limit = (bindparam(name, type_=Integer) for name in ("business", "offset", "limit"))
    both = union_all(*(select(Customer).where(Customer.business_id == business, part)
                       .order_by(*sort_key.order(Customer)).limit(offset + limit) for part in _short_and_long()))
    both = both.subquery("b")
    ordered = select(both).order_by(*sort_key.order(both.c, both.c[sort_key.column])).offset(offset).limit(limit)
    return select(Customer).from_statement(ordered)


def _rows_in_order(session: Session, business_id: int, ids: list[int]) -> list[CustomerPublic]:
    """The customers ``ids`` in that order, read as the page shows them (the table's rows,
    not ORM objects: a page of 50 costs a third of the time)."""
    if not ids:
        return []
    rows = session.exec(select(*_PUBLIC_COLUMNS).where(Customer.business_id == business_id, col(Customer.id).in_(ids)))
    by_id = {row.id: row for row in rows}
    return [CustomerPublic.model_validate(by_id[i]._asdict()) for i in ids if i in by_id]


_PUBLIC_COLUMNS = tuple(getattr(Customer, name) for name in CustomerPublic.model_fields)


_NOW = text("SELECT n, current_setting(n) FROM unnest(CAST(:names AS text[])) AS n")
_SET = text("SELECT set_config(n, v, true) FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(n, v)")


@contextmanager
def _planner(session: Session, settings: dict[str, str]) -> Iterator:
    """Planner settings for the statements inside (yielding a function that switches to
    others), put back afterwards; they last for this transaction only."""
    before = dict(session.exec(_NOW, params={"names": list(settings)}).all())

    def use(chosen: dict[str, str]) -> None:
        session.exec(_SET, params={"names": list(chosen), "values": list(chosen.values())})

    use(settings)
    try:
        yield use
    finally:
        use(before)
