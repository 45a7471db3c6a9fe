"""Searching, sorting and paging the customer directory on the server.

A page never loads the whole table: :func:`search_customers` asks for one page plus one
row (to know whether there is a next page). A whole phone number is one entry of an index;
browsing on PostgreSQL reads the ``(business, key, id)`` indexes in order. A substring
search on PostgreSQL chooses between indexes, because no single one is quick for every
term (every route gives exactly the same page):

* the **sort index** ``(business, key, id) INCLUDE (search_text)`` read in order, keeping
  the matches (index-only): quick when matches are common, since a page fills early;
* the **trigram index** (pg_trgm GIN): every match is found and only the matches are
  sorted: quick when they are few;
* a large business's **search blocks** (``_search_index``, name order only): the sort
  index read only in the blocks that may hold every piece of the term, so
  common matches that sit together late in the order (a first name) are reached at once.
  Wherever the sort index would be read from the start, the blocks are skimmed instead
  when the business has them.

A sample of the business's newest rows (``SAMPLE_ROWS``) decides the order:

* found three times or more in the sample, the term is common: the first ``WALK_REACH``
  entries of the sort index are read (one statement, bounded by entries read, not by
  matches); if they do not fill the page, the trigram index collects the matches, unless
  the planner's statistics say the business holds more than ``WALK_ON`` of them (collecting
  would overflow): the sort index is then read until the page is full;
* not found, or found once or twice with a rare piece (one customer's email, a phone
  fragment), the term is rare: the trigram index collects up to ``FEW_MATCHES`` matches,
  looked up with only the part of the term whose trigrams are not in most rows (a term such
  as ``customer777`` would otherwise read the whole lists for ``cus``, ``ust``... to find one
  row). More, and the term is not rare after all (``777`` in 0.4 % of phones); but a page's
  worth of those found, sorted, ends at a row the page cannot pass, and the sort index is
  read from the start, stopping there at the latest;
* found once or twice with only common pieces (``ana gar``), the term may be a name in one
  row of 500, and its lookup would read long lists: the sort index is read first.

Collecting stops at ``RARE_MATCHES`` matches, and those again tell where the page ends at
the latest; a later page than they reach reads the sort index to the page's end. The
trigram index's first column is the business; a lookup leaves it out when reading the
other businesses' rows it finds costs less than reading the business's whole list there
(see ``_Substring._by_business``).

SQLite has no trigram index: its search reads the business's rows in sort order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial

from sqlalchemy import Row
from sqlmodel import Session, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.customers import _search_index as blocks
from kaimen_core.customers import _search_sql as statements
from kaimen_core.customers._directory import (
    _require_member,
    business_region,
    search_condition,
    search_needle,
)
from kaimen_core.customers._search_estimates import business_share, table_size, term_share
from kaimen_core.customers._search_index import pieces, ready, skim
from kaimen_core.customers._search_planner import SORT_INDEX, TRIGRAM_INDEX, planner
from kaimen_core.customers._search_sql import PUBLIC_COLUMNS, SortKey
from kaimen_core.customers._search_terms import indexable, rare_part, rarest_share, rows_holding
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Customer
from kaimen_core.models.customers import CustomerPublic

__all__ = ["FEW_MATCHES", "PAGE_SIZE", "RARE_MATCHES", "SAMPLE_ROWS", "SORTS", "WALK_ON", "WALK_REACH",
           "CustomerPage", "search_customers"]

PAGE_SIZE = 50
#: Newest rows of the business that tell a common term from a rare one.
SAMPLE_ROWS = 1000
#: Matches in the sample that make a term common (3 in 1,000: a page of 50 within ~17,000 rows).
_COMMON = 3
#: Entries of the sort index read at most before the trigram index is asked (at a million
#: customers, 32,000 entries take about 7 ms: a term in 0.16 % of rows fills a page of 50).
WALK_REACH = 32000
#: Matches up to which the trigram index's matches are collected and sorted.
RARE_MATCHES = 2000
#: A business the planner says holds more matches than this is read on through the sort
#: index when a reach does not fill the page, rather than collected (which would overflow).
WALK_ON = 2 * RARE_MATCHES
#: A rare term's lookup collects at most this many (a page and a few: under a millisecond
#: at a million customers when there are more); more, and the sort index is read up to
#: where they say the page ends, or more are collected.
FEW_MATCHES = 60
#: A trigram lookup is quick when one of its three-letter pieces is in at most this share
#: of the sample's rows (the index steps through the other lists along the shortest one);
#: a term found once or twice in the sample whose lookup is not quick reads the sort index first.
_SHORT_LIST = 0.01
#: A table row read and dropped costs about as much as this many entries of an index list
#: (0.8 µs against 0.003 µs, measured at a million customers).
_ROW_PER_LIST_ENTRY = 270
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
    sort_key = SortKey(*SORTS[sort])
    number, needle = search_needle(query, region)
    postgres = session.connection().dialect.name == "postgresql"
    first = page * page_size
    if postgres:
        session.flush()  # the statements below run on the connection, which does not flush
    if needle and postgres:
        # the ids of the matches up to the end of the page, and one more
        finder = _Substring(session, actor.business_id, needle, sort_key, skip=first)
        ids = finder.first(first + page_size + 1)
        shown = statements.customers_in_order(session.connection(), actor.business_id, ids[first:first + page_size],
                                              finder.read)
        has_next = len(ids) > first + page_size
    else:
        if postgres and not number:
            found = session.connection().execute(
                statements.browse(sort_key),
                {"business": actor.business_id, "offset": first, "limit": page_size + 1}).all()
        else:
            where = (Customer.business_id == actor.business_id, search_condition(query, region))
            found = session.exec(select(*PUBLIC_COLUMNS).where(*where).order_by(*sort_key.order(Customer))
                                 .offset(first).limit(page_size + 1)).all()
        shown = [statements.public(row) for row in found[:page_size]]
        has_next = len(found) > page_size
    return CustomerPage(customers=shown, page=page, page_size=page_size, has_next=has_next)


class _Substring:
    """PostgreSQL: the ids of a substring search's first matches, in sort order."""

    def __init__(self, session: Session, business_id: int, needle: str, sort_key: SortKey, *, skip: int = 0) -> None:
        self.session, self.business_id, self.needle, self.sort_key = session, business_id, needle, sort_key
        self.skip = skip  # the matches before the page: their rows are not read
        self.read: dict[int, Row] = {}  # the page's rows a route read along with their ids
        self.connection = session.connection()
        self.use = None  # switches the planner settings, while first() runs

    def _run(self, statement, **params):
        return self.connection.execute(statement, {"business": self.business_id, "needle": self.needle, **params})

    @cached_property
    def share(self) -> float:
        """The business's share of the customers table (the planner's estimates), once asked."""
        return business_share(self.session, self.business_id)

    def _found(self, rows) -> list[int]:
        """The ids of a walk's or reach's ``rows``, keeping the page's customers they carry."""
        self.read.update((row.found, row) for row in rows if row.id is not None)
        return [row.found for row in rows]

    def first(self, wanted: int) -> list[int]:
        with planner(self.session, SORT_INDEX) as self.use:
            sample = self._run(statements.sample(), rows=SAMPLE_ROWS).scalars().all()
            if len(sample) < SAMPLE_ROWS:  # the sample is the whole business
                return self._walk(wanted)
            hits = rows_holding(self.needle, sample)
            if hits >= _COMMON:  # the whole term (a part of it would find ever more rows)
                probe = self.needle if indexable(self.needle) else None
            else:  # the part of it whose pieces are not in most rows
                probe = rare_part(self.needle, sample)
            collect = partial(self._collect, probe, RARE_MATCHES, sample)
            # (without a probe no lookup follows a reach: the walk at the end reads on anyway)
            reach = [self._skim, self._reach, *([self._walk_on] if probe is not None else [])]
            # Found once or twice: one customer's email, or a name in one row of 500? A lookup
            # whose pieces are all common reads long lists: read the sort index first.
            if hits >= _COMMON or (hits and (probe is None or rarest_share(probe, sample) > _SHORT_LIST)):
                tries = [*reach, collect]
            else:  # a short list: collect a few; more, and the term is not rare after all
                tries = [partial(self._collect, probe, FEW_MATCHES, sample), *reach, collect]
            for attempt in tries:
                ids = attempt(wanted)
                if ids is not None:
                    return ids
            return self._walk_all(wanted)

    @cached_property
    def skims(self) -> bool:
        """Whether the business's name order has blocks to skim (``_search_index``), once asked."""
        return self.sort_key.column == "name" and len(self.needle) >= 2 and ready(self.session, self.business_id)

    def _skim(self, wanted: int) -> list[int] | None:
        """The first ``wanted`` matches, reading the sort index only in the blocks that may
        hold the term (never more entries than a walk); None when there are no blocks."""
        if not self.skims:
            return None
        rows = self._run(skim(), pieces=pieces(self.needle), wanted=wanted, skip=self.skip,
                         dense_of=blocks.DENSE_OF, dense=blocks.DENSE).all()
        return self._found(rows)

    def _walk_all(self, wanted: int) -> list[int]:
        """The first ``wanted`` matches: skimmed when there are blocks, else walked."""
        ids = self._skim(wanted)
        return self._walk(wanted) if ids is None else ids

    def _walk(self, wanted: int, last: tuple | None = None) -> list[int]:
        """The first ``wanted`` matches in sort order, reading the sort indexes until found (and
        no further than the row ``last``, when given)."""
        if last is None:
            rows = self._run(statements.walk(self.sort_key), wanted=wanted, skip=self.skip).all()
        else:
            rows = self._run(statements.walk(self.sort_key, bounded=True), wanted=wanted, skip=self.skip,
                             last_key=last[0], last_id=last[1]).all()
        return self._found(rows)

    def _reach(self, wanted: int) -> list[int] | None:
        """The first ``wanted`` matches among the first ``WALK_REACH`` entries of the covering
        index (the bound is on entries read, not on matches) and the long rows (few: all are
        read); None when they are fewer (the reach ended first: long rows past its end may
        not come next)."""
        rows = self._run(statements.reach(self.sort_key), wanted=wanted, entries=WALK_REACH, skip=self.skip).all()
        if sum(1 for row in rows if row.short) < wanted:
            return None
        return self._found(rows[:wanted])

    def _walk_on(self, wanted: int) -> list[int] | None:
        """After a reach that did not fill the page: the sort indexes read until it is full, when
        the business likely holds more than ``WALK_ON`` matches, twice what a collect sorts
        (collecting would only tell where the page ends at the latest, and this walk would
        follow); None otherwise. How many is the planner's estimate of the term's share of
        the table (ANALYZE's sample of all of it, every business's rows together) times the
        business's rows. The sample here is the newest rows: a term clustered among new
        customers (a tag given at a recent event) would be walked across the whole index.
        Without the column's statistics (``textlike`` not LEAKPROOF: under row-level
        security the planner then guesses from the term's length) nothing is walked on. The
        walk reads the reach's entries again, in one statement: going on from the reach's
        end would miss a row moved before it in between."""
        business_rows = self._business_rows()
        if business_rows is None or business_rows <= WALK_ON:
            return None
        if term_share(self.session, self.business_id, self.needle) * business_rows <= WALK_ON:
            return None
        return self._walk(wanted)

    def _business_rows(self) -> float | None:
        """About how many customers the business has; None before the table was analyzed, or
        when the planner may not read the search column's statistics."""
        table_rows, statistics = table_size(self.session)
        return None if table_rows < 0 or not statistics else self.share * table_rows

    def _collect(self, probe: str | None, most: int, sample: list[str], wanted: int) -> list[int] | None:
        """The first ``wanted`` matches through the trigram index (looked up with ``probe``, a
        part of the term; the whole term is then checked on each row found): all of them,
        sorted, when there are at most ``most`` (at least a page's worth are collected).
        None when there is no probe.

        More than ``most`` still tells where the page ends at the latest: ``wanted`` of the
        rows found, sorted, end at a row the page cannot pass. The part of the table read to
        find them tells how many matches there are in all, and so how many entries hold a
        page of them. Within ``WALK_REACH`` entries, the sort indexes are read: when all
        those rows are short ones, the first ``WALK_REACH`` entries (the blocks are skimmed
        if the page is not among them after all: the matches sit later than their density
        says); else up to that row (the bound, a row comparison on each entry, would slow
        the first kind). Further, up to ``RARE_MATCHES`` are collected instead."""
        if probe is None:
            return None
        most = max(most, wanted)
        self.use(TRIGRAM_INDEX)
        try:
            statement = statements.collect(self.sort_key, exact=probe == self.needle,
                                           by_business=self._by_business(probe, sample))
            rows = self._run(statement, pattern=db.contains_pattern(probe), limit=most + 1, wanted=wanted).all()
        finally:
            self.use(SORT_INDEX)
        if not rows or rows[0].total <= most:
            return [row.id for row in rows]
        # more than most (and so more than wanted): the one row back is the wanted-th found
        [found] = rows
        if most < RARE_MATCHES and (found.table_rows < 0 or self._too_far(found, wanted)):
            # a page of matches lies further than WALK_REACH entries (or the table was never
            # analyzed, and nothing tells): collect them all
            return self._collect(probe, RARE_MATCHES, sample, wanted)
        if not found.any_long:  # likely within WALK_REACH entries; further (clustered late), skimmed
            ids = self._reach(wanted)
            return self._walk_all(wanted) if ids is None else ids
        ids = self._walk(wanted, (found.key, found.id))
        # fewer when a match before the bound was changed since the lookup: read on
        return ids if len(ids) >= wanted else self._walk_all(wanted)

    def _too_far(self, found, wanted: int) -> bool:
        """Whether a page of matches lies further than ``WALK_REACH`` entries, judging by the
        ``found.total`` matches a lookup found in the part of the table it read."""
        business_rows = self.share * found.table_rows * min(found.pages_read / max(found.pages, 1), 1.0)
        return wanted * business_rows > WALK_REACH * found.total

    def _by_business(self, probe: str, sample: list[str]) -> bool:
        """Whether a trigram lookup reads the business's list in the index (its first
        column: 3 ms at a million rows), rather than only the probe's lists, dropping the
        table's rows of other businesses as it reads them. Chosen by which costs less: the
        business's share of the table (the planner's estimates) against the probe's share
        of the sample."""
        others = max(rarest_share(probe, sample), 0.5 / len(sample)) * (1 - self.share)
        return others * _ROW_PER_LIST_ENTRY >= self.share

