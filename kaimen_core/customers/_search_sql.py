"""The statements a customer search runs on PostgreSQL (see ``_search``), each built once
per sort order (and variant) with bound parameters.

Building a statement of this shape and finding its compiled form costs about a
millisecond of Python, more than running it for a small business; built once, a search
pays only for running it. They run on the session's connection (Core, not the ORM), and
the page's customers come back as rows (:func:`public` makes them what the page shows).
"""

from __future__ import annotations

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
    true,
    tuple_,
    union_all,
)
from sqlmodel import col, select

from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic

__all__ = ["PUBLIC_COLUMNS", "SHORT_TEXT_BYTES", "SortKey", "browse", "collect", "customers_in_order", "page_rows",
           "public", "reach", "sample", "walk", "with_page_rows"]

#: Rows whose search column is longer are in small sort indexes of their own (a btree
#: entry holds at most 2,704 bytes; migration 0007).
SHORT_TEXT_BYTES = 1800
#: The columns a page shows (a customer as CustomerPublic has it).
PUBLIC_COLUMNS = tuple(getattr(Customer, name) for name in CustomerPublic.model_fields)

_IN_BUSINESS = Customer.business_id == bindparam("business", type_=BigInteger)


def _holds(column):
    """``column`` holds the needle (strpos: reading a sort index, a fifth quicker than LIKE)."""
    return func.strpos(column, bindparam("needle", type_=String)) > 0


_HOLDS = _holds(Customer.search_text)
_WANTED = bindparam("wanted", type_=Integer)


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
    """Rows whose search column is in the sort indexes that carry it, and the others (the
    bound a constant in the SQL text, so that the planner matches the partial indexes)."""
    size, bound = func.octet_length(Customer.search_text), literal_column(str(SHORT_TEXT_BYTES))
    return size <= bound, size > bound


@cache
def sample():
    """The search column of the business's ``rows`` newest rows (short ones)."""
    short, _ = _short_and_long()
    return (select(Customer.search_text).where(_IN_BUSINESS, short)
            .order_by(col(Customer.created_at).desc(), col(Customer.id).desc())
            .limit(bindparam("rows", type_=Integer)))


@cache
def walk(sort_key: SortKey, *, bounded: bool = False):
    """The first ``wanted`` rows holding ``needle``, in sort order: the short rows' covering
    index and the long rows' own index, each read until it has them, merged. When
    ``bounded``, only up to the row ``(last_key, last_id)`` (a row known to end the page or
    lie beyond it: the index is read no further).

    Each row: the customer's columns as the page shows them when it is on the page (NULL
    otherwise), then ``found`` (the id). A walk is the route a large business's searches end
    on, and it hands the page over without another round trip."""
    key = getattr(Customer, sort_key.column)
    window = ()
    if bounded:
        row, last = tuple_(key, Customer.id), tuple_(bindparam("last_key", type_=key.type),
                                                     bindparam("last_id", type_=BigInteger))
        window = (row >= last if sort_key.descending else row <= last,)
    both = union_all(*(select(Customer.id, key.label("key")).where(_IN_BUSINESS, size, _HOLDS, *window)
                       .order_by(*sort_key.order(Customer)).limit(_WANTED) for size in _short_and_long()))
    both = both.subquery("m")
    found = select(both.c.id, both.c.key).order_by(*sort_key.order(both.c, both.c.key)).limit(_WANTED).subquery("f")
    return with_page_rows(found, sort_key)


def with_page_rows(found, sort_key: SortKey, *carried: str):
    """``found``'s rows (an id, a sort key and the ``carried`` columns each) in sort order,
    numbered, each with the customer's columns when it is on the page: past ``skip``, and
    before the last of ``wanted`` (the one that tells whether another page follows); read by
    primary key, in the same statement. The join is on the id of a row on the page (NULL
    otherwise, which finds nothing without reading the index): a condition on the row's
    number alone would be checked only after reading each customer, and a later page would
    read every row before it. Each row: the customer's columns (NULL off the page), then
    ``found`` (the id) and the carried columns."""
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
    ``wanted`` long rows holding it, merged in sort order: each with the page's columns when
    it is on the page (as a walk's), ``found`` (the id) and ``short`` (whether a short row)."""
    key = getattr(Customer, sort_key.column)
    short_rows, long_rows = _short_and_long()
    head = (select(Customer.id, key.label("key"), Customer.search_text).where(_IN_BUSINESS, short_rows)
            .order_by(*sort_key.order(Customer)).limit(bindparam("entries", type_=Integer)).subquery("head"))
    short = (select(head.c.id, head.c.key, literal(True).label("short"))
             .where(_holds(head.c.search_text))
             .order_by(*sort_key.order(head.c, head.c.key)).limit(_WANTED))
    long = (select(Customer.id, key.label("key"), literal(False).label("short"))
            .where(_IN_BUSINESS, long_rows, _HOLDS).order_by(*sort_key.order(Customer)).limit(_WANTED))
    return with_page_rows(union_all(short, long).subquery("s"), sort_key, "short")


#: The customers table's size in pages, and its estimated rows (pg_class, readable by any role).
_PAGES = literal_column("pg_relation_size('customers') / current_setting('block_size')::int")
_TABLE_ROWS = literal_column("(SELECT reltuples FROM pg_class WHERE oid = 'customers'::regclass)")


@cache
def collect(sort_key: SortKey, *, exact: bool, by_business: bool):
    """The first ``wanted`` rows, in sort order, of at most ``limit`` rows whose search column
    is ``LIKE pattern`` (a trigram lookup), and holds ``needle`` when not ``exact`` (the
    pattern is only a part of the term). Unless ``by_business``, the lookup leaves out the
    index's business column (``business_id + 0`` is not an index condition) and drops other
    businesses' rows as it reads them.

    Each row: its id, sort key, number in sort order and whether it is long (``any_long``:
    it or a row before it), then how many were found, and what tells how many there would
    be in all: the table's pages read to find them (the rows come in the table's order) out
    of ``pages``, and the table's estimated ``table_rows``. When ``limit`` rows are found
    (more than can be sorted here), only the ``wanted``-th comes back: where the page ends
    at the latest."""
    in_business = _IN_BUSINESS if by_business else Customer.business_id + literal_column("0") == bindparam("business")
    whole = () if exact else (_HOLDS,)
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
    """The business's customers ``offset`` to ``offset + limit`` in sort order, read through
    the ``(business, key, id)`` indexes (short and long search columns apart, merged)."""
    end = bindparam("offset", type_=Integer) + bindparam("limit", type_=Integer)
    both = union_all(*(select(*PUBLIC_COLUMNS).where(_IN_BUSINESS, part).order_by(*sort_key.order(Customer))
                       .limit(end) for part in _short_and_long())).subquery("b")
    return (select(both).order_by(*sort_key.order(both.c, both.c[sort_key.column]))
            .offset(bindparam("offset")).limit(bindparam("limit")))


@cache
def page_rows():
    """The business's customers whose ids are in ``ids`` (any order)."""
    return select(*PUBLIC_COLUMNS).where(_IN_BUSINESS, Customer.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))


def customers_in_order(connection, business_id: int, ids: list[int], read: dict[int, Row]) -> list[CustomerPublic]:
    """The customers ``ids`` in that order, as the page shows them (those not already ``read``
    with a route's rows are read now, with :func:`page_rows`)."""
    missing = [i for i in ids if i not in read]
    if missing:
        rows = connection.execute(page_rows(), {"business": business_id, "ids": missing})
        read = {**read, **{row.id: row for row in rows}}
    return [public(read[i]) for i in ids if i in read]


_PUBLIC_NAMES = tuple(CustomerPublic.model_fields)


def public(row: Row) -> CustomerPublic:
    """A customer as the page shows it, from a row that starts with ``PUBLIC_COLUMNS``
    (by position: a quarter of the cost of ``Row._asdict``; a walk's rows add ``found``)."""
    return CustomerPublic.model_validate(dict(zip(_PUBLIC_NAMES, row, strict=False)))
