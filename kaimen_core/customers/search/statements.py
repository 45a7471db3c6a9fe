"""The statements a customer search runs on PostgreSQL, and the planner settings they run
under. Each statement is built once per sort order with bound parameters (building and
compiling one of this shape costs about a millisecond of Python, more than running it for
a small business) and runs on the session's connection; the page's customers come back as
rows that :func:`public` turns into what the page shows. The sort indexes are partial:
rows whose search column fits a btree entry (``INDEXED_TEXT_BYTES``) are in a covering index
``(business, key, id) INCLUDE (search_text)``, the few others in small indexes of their
own, so every statement that reads a sort order reads both and merges them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Integer,
    Row,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    text,
    true,
    tuple_,
    union_all,
)
from sqlmodel import Session, col, select

from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic

__all__ = ["INDEXED_TEXT_BYTES", "PUBLIC_COLUMNS", "SORT_INDEX", "TRIGRAM_INDEX", "SortKey", "browse", "collect",
           "customers_in_order", "planner", "public", "reach", "sample", "walk", "with_page_rows"]

#: The longest search column (bytes) the covering sort indexes hold; longer ones are in
#: small sort indexes of their own (a btree entry holds at most 2,704 bytes; migration 0007).
INDEXED_TEXT_BYTES = 1800
#: The columns a page shows (a customer as CustomerPublic has it).
PUBLIC_COLUMNS = tuple(getattr(Customer, name) for name in CustomerPublic.model_fields)
_PUBLIC_NAMES = tuple(CustomerPublic.model_fields)
_IN_BUSINESS = Customer.business_id == bindparam("business", type_=BigInteger)
_WANTED = bindparam("wanted", type_=Integer)


def _holds(column):
    """``column`` holds the needle (strpos: reading a sort index, a fifth quicker than LIKE)."""
    return func.strpos(column, bindparam("needle", type_=String)) > 0


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sort order: its column, and whether it runs newest first."""

    column: str
    descending: bool

    def order(self, source, key=None) -> tuple:
        """ORDER BY for the sort key (``key`` when given, else ``source``'s column) and the id."""
        key = getattr(source, self.column) if key is None else key
        if self.descending:
            return col(key).desc(), col(source.id).desc()
        return col(key).asc(), col(source.id).asc()


def _short_and_long() -> tuple:
    """Rows in the covering sort indexes, and the others (the bound a constant in the SQL
    text, so that the planner matches the partial indexes)."""
    size, bound = func.octet_length(Customer.search_text), literal_column(str(INDEXED_TEXT_BYTES))
    return size <= bound, size > bound


@cache
def sample():
    """The search column of the business's ``rows`` newest (short) rows."""
    return (select(Customer.search_text).where(_IN_BUSINESS, _short_and_long()[0])
            .order_by(col(Customer.created_at).desc(), col(Customer.id).desc())
            .limit(bindparam("rows", type_=Integer)))


@cache
def walk(sort_key: SortKey, *, bounded: bool = False):
    """The first ``wanted`` rows holding ``needle`` in sort order, reading the sort indexes
    until found; when ``bounded``, no further than the row ``(last_key, last_id)``. Its rows
    are :func:`with_page_rows`'s."""
    key = getattr(Customer, sort_key.column)
    window = ()
    if bounded:
        row, last = tuple_(key, Customer.id), tuple_(bindparam("last_key", type_=key.type),
                                                     bindparam("last_id", type_=BigInteger))
        window = (row >= last if sort_key.descending else row <= last,)
    both = union_all(*(select(Customer.id, key.label("key")).where(_IN_BUSINESS, size, _holds(Customer.search_text),
                                                                   *window)
                       .order_by(*sort_key.order(Customer)).limit(_WANTED) for size in _short_and_long()))
    both = both.subquery("m")
    found = select(both.c.id, both.c.key).order_by(*sort_key.order(both.c, both.c.key)).limit(_WANTED).subquery("f")
    return with_page_rows(found, sort_key)


def with_page_rows(found, sort_key: SortKey, *carried: str):
    """``found``'s rows (an id and a sort key each, and the ``carried`` columns) in sort
    order, each with the customer's columns when it is on the page (past ``skip``, before
    the ``wanted``-th, which only tells whether a page follows), read by primary key in the
    same statement. The join is on the id of a row on the page, NULL otherwise, so a later
    page does not read the customers before it. Each row: the page's columns (NULL off the
    page), ``found`` (the id), the carried columns."""
    number = func.row_number().over(order_by=sort_key.order(found.c, found.c.key))
    on_page = and_(number > bindparam("skip", type_=Integer), number < _WANTED)
    numbered = select(found.c.id, number.label("n"), case((on_page, found.c.id)).label("shown_id"),
                      *(found.c[name] for name in carried)).subquery("numbered")
    shown = select(*PUBLIC_COLUMNS).where(_IN_BUSINESS, Customer.id == numbered.c.shown_id).lateral("shown")
    return (select(*shown.c, numbered.c.id.label("found"), *(numbered.c[name] for name in carried))
            .select_from(numbered.outerjoin(shown, true())).order_by(numbered.c.n))


@cache
def reach(sort_key: SortKey):
    """The first ``wanted`` rows holding ``needle`` among the first ``entries`` entries of the
    covering index (read up to that many, then kept when they match), and the first
    ``wanted`` long rows holding it, merged: :func:`with_page_rows`'s rows, with ``short``."""
    key = getattr(Customer, sort_key.column)
    short_rows, long_rows = _short_and_long()
    head = (select(Customer.id, key.label("key"), Customer.search_text).where(_IN_BUSINESS, short_rows)
            .order_by(*sort_key.order(Customer)).limit(bindparam("entries", type_=Integer)).subquery("head"))
    short = (select(head.c.id, head.c.key, literal(True).label("short")).where(_holds(head.c.search_text))
             .order_by(*sort_key.order(head.c, head.c.key)).limit(_WANTED))
    long = (select(Customer.id, key.label("key"), literal(False).label("short"))
            .where(_IN_BUSINESS, long_rows, _holds(Customer.search_text))
            .order_by(*sort_key.order(Customer)).limit(_WANTED))
    return with_page_rows(union_all(short, long).subquery("s"), sort_key, "short")


#: The customers table's size in pages, and its estimated rows (pg_class, readable by any role).
_PAGES = literal_column("pg_relation_size('customers') / current_setting('block_size')::int")
_TABLE_ROWS = literal_column("(SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass)")


@cache
def collect(sort_key: SortKey, *, exact: bool, by_business: bool):
    """A trigram lookup: the first ``wanted`` rows, in sort order, of at most ``limit`` rows
    whose search column is ``LIKE pattern`` (and holds ``needle``, unless ``exact``: the
    pattern is the whole term). Unless ``by_business`` the lookup leaves out the index's
    business column (``business_id + 0``) and drops other businesses' rows as it reads them.

    Each row: id, sort key, number in sort order, ``any_long`` (a long row so far), then
    ``total`` found, and what tells how many there are in all: the table's pages read to
    find them (rows come in table order) of ``pages``, and the estimated ``table_rows``.
    When ``limit`` rows are found, only the ``wanted``-th comes back: where the page ends
    at the latest."""
    in_business = _IN_BUSINESS if by_business else Customer.business_id + literal_column("0") == bindparam("business")
    whole = () if exact else (_holds(Customer.search_text),)
    key = getattr(Customer, sort_key.column)
    page = literal_column("(customers.ctid::text::point)[0]")
    limit = bindparam("limit", type_=Integer)
    hits = (select(Customer.id, key.label("key"), _short_and_long()[1].label("long"), page.label("page"))
            .where(in_business, col(Customer.search_text).like(bindparam("pattern", type_=String), escape="\\"),
                   *whole)
            .limit(limit).cte("hits").prefix_with("MATERIALIZED"))
    total = select(func.count()).select_from(hits).scalar_subquery()
    read = select(func.max(hits.c.page) + 1).select_from(hits).scalar_subquery().label("pages_read")
    order = sort_key.order(hits.c, hits.c.key)
    first = (select(hits.c.id, hits.c.key, func.row_number().over(order_by=order).label("n"),
                    func.bool_or(hits.c.long).over(order_by=order).label("any_long"))
             .order_by(*order).limit(_WANTED).subquery("first"))
    return (select(first, total.label("total"), read, _PAGES.label("pages"), _TABLE_ROWS.label("table_rows"))
            .where(or_(total < limit, first.c.n == _WANTED)).order_by(first.c.n))


@cache
def browse(sort_key: SortKey):
    """The business's customers ``offset`` to ``offset + limit`` in sort order."""
    end = bindparam("offset", type_=Integer) + bindparam("limit", type_=Integer)
    both = union_all(*(select(*PUBLIC_COLUMNS).where(_IN_BUSINESS, part).order_by(*sort_key.order(Customer))
                       .limit(end) for part in _short_and_long())).subquery("b")
    return (select(both).order_by(*sort_key.order(both.c, both.c[sort_key.column]))
            .offset(bindparam("offset")).limit(bindparam("limit")))


_PAGE_ROWS = select(*PUBLIC_COLUMNS).where(_IN_BUSINESS,
                                           Customer.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))


def customers_in_order(connection, business_id: int, ids: list[int], read: dict[int, Row]) -> list[CustomerPublic]:
    """The customers ``ids`` in that order, as the page shows them (those a route did not
    already ``read`` are read now)."""
    missing = [i for i in ids if i not in read]
    if missing:
        rows = connection.execute(_PAGE_ROWS, {"business": business_id, "ids": missing})
        read = {**read, **{row.id: row for row in rows}}
    return [public(read[i]) for i in ids if i in read]


def public(row: Row) -> CustomerPublic:
    """A customer as the page shows it, from a row that starts with ``PUBLIC_COLUMNS``
    (by position: a quarter of the cost of ``Row._asdict``)."""
    return CustomerPublic.model_validate(dict(zip(_PUBLIC_NAMES, row, strict=False)))


#: Planner settings: read a sort index in order (the planner cannot tell how common a term
#: is and would rather sort the whole business; with one path left whatever the parameters,
#: a statement keeps one generic plan instead of being planned on every search, and the
#: skim of the search blocks sorts each block's matches as it comes), or the trigram index
#: only. JIT is off: the costs of the paths turned off would set it off.
SORT_INDEX = {"plan_cache_mode": "force_generic_plan", "jit": "off", "enable_seqscan": "off",
              "enable_bitmapscan": "off", "enable_indexscan": "on", "enable_sort": "off",
              "enable_incremental_sort": "on", "max_parallel_workers_per_gather": "0"}
TRIGRAM_INDEX = {**SORT_INDEX, "plan_cache_mode": "auto", "enable_bitmapscan": "on", "enable_indexscan": "off",
                 "enable_sort": "on"}
#: Reads each setting, then sets it (a row's columns are computed in order).
_SWAP = text("SELECT n, current_setting(n), set_config(n, v, true) "
             "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(n, v)")


@contextmanager
def planner(session: Session, settings: dict[str, str]) -> Iterator:
    """Planner ``settings`` for the statements inside (yielding a function that switches to
    others), put back afterwards; they last for this transaction only."""
    def use(chosen: dict[str, str]):
        return session.exec(_SWAP, params={"names": list(chosen), "values": list(chosen.values())}).all()

    before = {name: value for name, value, _ in use(settings)}
    try:
        yield use
    except BaseException:
        with suppress(Exception):  # an aborted transaction takes its settings with it
            use(before)
        raise
    use(before)
