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

A sample of the business's newest rows (``SAMPLE_ROWS``) decides the order. A term found
three times or more in the sample is common: the sort index is read (``WALK_ROWS``); if
they do not fill the page, the matches are collected through the trigram index. A term
not found in the sample is rare: the trigram index is asked first, with only the part of the
term whose trigrams are not in most rows (a term such as ``customer777`` would otherwise
read the trigram index's whole lists for ``cus``, ``ust``... to find one row). A term found
once or twice may be either (one customer's email, or a name in one row of 500). One with a
rare piece is rare: its lookup reads a short list. One whose pieces are all common (``ana
gar``) would read long lists. Sorted by name, where a name's rows lie together, the sort
index is read first, ``TRIAL_ROWS`` entries and on while the matches found so far would fill
the page within ``TRIAL_REACH``, then the trigram index. In time order its matches are
spread as in the sample (one or two in 1,000: a page is 25,000 entries or more away), so
the trigram index is asked first.
Whatever the route, more than ``RARE_MATCHES`` matches falls back to reading the sort index
to the page's end.

SQLite has no trigram index: its search reads the business's rows in sort order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Integer, bindparam, func, literal_column, null, text, tuple_, union_all
from sqlmodel import Session, col, select

from kaimen_core.actors import Actor
from kaimen_core.customers._directory import _require_member, business_region, contains, search_condition, search_needle
from kaimen_core.customers._search_terms import indexable, rare_part, rarest_share, rows_holding
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic

__all__ = ["PAGE_SIZE", "RARE_MATCHES", "SAMPLE_ROWS", "SORTS", "TRIAL_REACH", "TRIAL_ROWS", "WALK_ROWS",
           "CustomerPage", "search_customers"]

PAGE_SIZE = 50
#: Newest rows of the business that tell a common term from a rare one.
SAMPLE_ROWS = 1000
#: Matches in the sample that make a term common (3 in 1,000: a page of 50 within ~17,000 rows).
_COMMON = 3
#: Entries of the sort index a common term reads, in stretches that end at these numbers,
#: before asking the trigram index.
WALK_ROWS = (1000, 3000, 7000, 15000, 31000)
#: A term found only once or twice in the sample reads the sort index in stretches that end
#: at the WALK_ROWS from TRIAL_ROWS to TRIAL_REACH, and stops as soon as the matches found so
#: far, at their rate, would not fill the page within TRIAL_REACH entries: beyond, the
#: trigram index costs less (at a million customers, walking 28,000 entries took 50 ms
#: where the trigram index took 38 ms for the same 0.2 % term).
TRIAL_ROWS = 7000
TRIAL_REACH = 15000
#: Matches up to which the trigram index's matches are sorted; beyond, the sort index is read.
RARE_MATCHES = 2000
#: A trigram lookup is quick when one of its three-letter pieces is in at most this share
#: of the sample's rows (the index steps through the other lists along the shortest one);
#: a term found once or twice in the sample whose lookup is not quick reads the sort index first.
_SHORT_LIST = 0.01
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
    if needle and postgres:
        # the ids of the matches up to the end of the page, and one more
        ids = _Substring(session, actor.business_id, needle, sort_key).first((page + 1) * page_size + 1)
        found = _rows_in_order(session, actor.business_id, ids[page * page_size:])
    elif postgres and not number:
        found = _browse(session, actor.business_id, sort_key, page * page_size, page_size + 1)
    else:
        where = (Customer.business_id == actor.business_id, search_condition(query, region))
        found = session.exec(select(Customer).where(*where).order_by(*sort_key.order(Customer))
                             .offset(page * page_size).limit(page_size + 1)).all()
    return CustomerPage(
        customers=[CustomerPublic.model_validate(c, from_attributes=True) for c in found[:page_size]],
        page=page,
        page_size=page_size,
        has_next=len(found) > page_size,
    )


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

    def before(self, row, bound):
        """``row`` sorts before ``bound``: the start of the sort index up to ``bound``."""
        return row > bound if self.descending else row < bound


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
        self.session, self.needle, self.sort_key = session, needle, sort_key
        self.in_business = Customer.business_id == business_id
        self.matches = contains(col(Customer.search_text), needle)
        self.order = sort_key.order(Customer)
        self.short, self.long = _short_and_long()

    def first(self, wanted: int) -> list[int]:
        with _planner(self.session, _SORT_INDEX) as use:
            sample = self.session.exec(select(Customer.search_text).where(self.in_business, self.short)
                                       .order_by(col(Customer.created_at).desc(), col(Customer.id).desc())
                                       .limit(SAMPLE_ROWS)).all()
            if len(sample) < SAMPLE_ROWS:  # the sample is the whole business
                return self._walk(wanted)
            hits = rows_holding(self.needle, sample)
            if hits >= _COMMON:
                ids = self._windows(wanted)
                if ids is not None:
                    return ids
                probe = self.needle if indexable(self.needle) else None
            else:
                probe = rare_part(self.needle, sample)
                # Found once or twice: one customer's email, or a name in one row of 500? A
                # lookup whose pieces are all common reads long lists: in name order, where a
                # name's rows lie together, read the sort index first. (In time order the
                # matches are spread as in the sample: a page lies 25,000+ entries away.)
                if (hits and probe is not None and self.sort_key.column == "name"
                        and rarest_share(probe, sample) > _SHORT_LIST):
                    ids = self._windows(wanted, patient=False)
                    if ids is not None:
                        return ids
            if probe is not None:
                use(_TRIGRAM_INDEX)
                ids = self._collect(probe, wanted)
                if ids is not None:
                    return ids
                use(_SORT_INDEX)
            return self._walk(wanted)

    def _walk(self, wanted: int, *window) -> list[int]:
        """The first ``wanted`` matches in sort order (in ``window``)."""
        return list(self.session.exec(self._matches(wanted, *window)).all())

    def _matches(self, wanted: int, *window):
        """SELECT of the first ``wanted`` matches' ids in sort order (in ``window``): the short
        rows' covering index and the long rows' own index, merged in order."""
        key = getattr(Customer, self.sort_key.column)
        both = union_all(*(select(Customer.id, key.label("key")).where(self.in_business, size, self.matches, *window)
                           .order_by(*self.order).limit(wanted) for size in (self.short, self.long))).subquery("m")
        return select(both.c.id).order_by(*self.sort_key.order(both.c, both.c.key)).limit(wanted)

    def _windows(self, wanted: int, *, patient: bool = True) -> list[int] | None:
        """The first matches among the first entries of the sort index, read a stretch at a
        time (WALK_ROWS); None when they are fewer than ``wanted`` and the business has more.
        Unless ``patient``, the stretches run from ``TRIAL_ROWS`` (a term this rare seldom
        fills a page sooner) to ``TRIAL_REACH``, and the walk stops as soon as the matches
        found so far, at the same rate, would not fill the page by then.

        Each stretch is one statement: its end (the entry that many entries on, absent past
        the business's last entry), then the matches before that end."""
        key = getattr(Customer, self.sort_key.column)
        row, ids, start, read = tuple_(key, Customer.id), [], (), 0
        for upto in WALK_ROWS if patient else [n for n in WALK_ROWS if TRIAL_ROWS <= n <= TRIAL_REACH]:
            end = (select(key.label("key"), Customer.id.label("id")).where(self.in_business, self.short, *start)
                   .order_by(*self.order).offset(upto - read).limit(1).cte("stretch_end").prefix_with("MATERIALIZED"))
            edge = tuple_(select(end.c.key).scalar_subquery(), select(end.c.id).scalar_subquery())
            found = self.session.exec(union_all(
                select(end.c.key, end.c.id),
                select(null(), *self._matches(wanted - len(ids), *start, self.sort_key.before(row, edge))
                       .subquery("w").c))).all()
            bound = next(((k, i) for k, i in found if k is not None), None)
            if bound is None:  # the business ends within the stretch: walk to its end
                ids += self._walk(wanted - len(ids), *start)
                return ids
            ids += [i for k, i in found if k is None]
            if len(ids) >= wanted:
                return ids
            if not patient and len(ids) * TRIAL_REACH < wanted * upto:
                return None
            start, read = (~self.sort_key.before(row, tuple_(*bound)),), upto
        return None

    def _collect(self, probe: str, wanted: int) -> list[int] | None:
        """All matches through the trigram index (looked up with ``probe``, a part of the
        term), sorted; None when there are more than RARE_MATCHES."""
        # A part of the term is looked up; the whole term is then checked on each row found
        # (strpos, which the trigram index does not answer, so its lists are not read).
        exact = () if probe == self.needle else (func.strpos(Customer.search_text, self.needle) > 0,)
        key = getattr(Customer, self.sort_key.column)
        hits = (select(Customer.id, key.label("key"))
                .where(self.in_business, contains(col(Customer.search_text), probe), *exact)
                .limit(RARE_MATCHES + 1).cte("hits").prefix_with("MATERIALIZED"))
        total = select(func.count()).select_from(hits).scalar_subquery()
        rows = self.session.exec(select(hits.c.id, total).order_by(*self.sort_key.order(hits.c, hits.c.key))
                                 .limit(wanted)).all()
        if rows and rows[0][1] > RARE_MATCHES:
            return None
        return [row[0] for row in rows]


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


def _rows_in_order(session: Session, business_id: int, ids: list[int]) -> list[Customer]:
    if not ids:
        return []
    by_id = {c.id: c for c in session.exec(select(Customer).where(
        Customer.business_id == business_id, col(Customer.id).in_(ids))).all()}
    return [by_id[i] for i in ids if i in by_id]


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
