"""Customer search: one page of a business's customers, searched, sorted and paged on the
server (:func:`search_customers`), and the upkeep of the search blocks that keep a large
business's name-ordered searches quick. A page never loads the whole table: it asks for
one page plus one row (whether another follows). Browsing reads the sort indexes in
order; a whole phone number is one entry of the ``(business, phone)`` index; a substring
on PostgreSQL follows a route (``route``: choosing it, ``statements``: what it runs,
``blocks``: the search blocks it may skim, ``upkeep``: keeping them in step); SQLite reads
the business's rows in sort order. docs/search.md tells why, with the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from kaimen_core.actors import Actor
from kaimen_core.customers._directory import _require_member, business_region, search_condition, search_needle
from kaimen_core.customers.search import statements
from kaimen_core.customers.search.route import Finder, Route
from kaimen_core.customers.search.statements import PUBLIC_COLUMNS, SortKey
from kaimen_core.customers.search.upkeep import (
    build_search_blocks,
    forget_customers,
    refresh_search_index,
    refresh_search_indexes,
)
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic
from kaimen_core.validators import clean_search

__all__ = ["PAGE_SIZE", "SORTS", "CustomerPage", "Route", "build_search_blocks", "forget_customers",
           "refresh_search_index", "refresh_search_indexes", "search_customers"]

PAGE_SIZE = 50
#: Sort choices: label -> (column, descending).
SORTS = {
    "name": ("name", False),
    "newest": ("created_at", True),
    "recently_updated": ("updated_at", True),
}


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of customers, whether another follows, and the route that found it
    (``browse``, ``rows``, ``walk``, ``reach``, ``collect`` or ``skim``: docs/search.md)."""

    customers: list[CustomerPublic]
    page: int
    page_size: int
    has_next: bool
    route: str = ""


def search_customers(
    session: Session,
    *,
    actor: Actor,
    query: str | None = None,
    sort: str = "name",
    page: int = 0,
    page_size: int = PAGE_SIZE,
    route: Route | None = None,
) -> CustomerPage:
    """One page of the business's customers matching ``query``, sorted by ``sort``.

    ``route`` forces how a substring search on PostgreSQL goes (tests and benches); by
    default a sample of the business's rows chooses. Every route gives the same page."""
    _require_member(actor)
    if sort not in SORTS:
        raise ValidationError(f"Unknown sort {sort!r}.", field="sort")
    page = max(int(page), 0)
    page_size = max(1, min(int(page_size), 200))
    query = clean_search(query)
    sort_key = SortKey(*SORTS[sort])
    region = business_region(session, actor=actor)
    number, needle = search_needle(query, region)
    postgres = session.connection().dialect.name == "postgresql"
    first, business = page * page_size, actor.business_id
    if postgres:
        session.flush()  # the statements below run on the connection, which does not flush
    if needle and postgres:
        # the ids of the matches up to the end of the page, and one more
        finder = Finder(session, business, needle, sort_key, skip=first, route=route)
        ids = finder.first(first + page_size + 1)
        shown = statements.customers_in_order(session.connection(), business, ids[first:first + page_size],
                                              finder.read)
        return CustomerPage(shown, page, page_size, len(ids) > first + page_size, finder.answer)
    if postgres and not number:
        found = session.connection().execute(statements.browse(sort_key),
                                             {"business": business, "offset": first, "limit": page_size + 1}).all()
        answer = "browse"
    else:
        where = (Customer.business_id == business, search_condition(query, region))
        found = session.exec(select(*PUBLIC_COLUMNS).where(*where).order_by(*sort_key.order(Customer))
                             .offset(first).limit(page_size + 1)).all()
        answer = "rows"
    shown = [statements.public(row) for row in found[:page_size]]
    return CustomerPage(shown, page, page_size, len(found) > page_size, answer)
