"""Choosing a route for a substring search on PostgreSQL, and following it to the ids of
the first matches in sort order. No index is quick for every term: the sort index read in
order fills a page early when matches are common (a *reach* reads its first
``REACH_ENTRIES`` entries, a *walk* reads on until the page is full), the trigram index
finds every match and only the matches are sorted, which is quick when they are few (a
*collect*), and a large business's search blocks point a name-ordered read at the blocks
that may hold the term (a *skim*). A sample of the business's newest rows tells a rare
term, whose few matches are collected first, from a common one, whose page is reached
first; whatever does not answer hands on to the next step, and every route gives the
same page. See docs/search.md for the measurements behind each limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from itertools import repeat
from operator import contains
from typing import Literal

from sqlalchemy import Row, text
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.customers.search import blocks, statements
from kaimen_core.customers.search.statements import SORT_INDEX, TRIGRAM_INDEX, SortKey, planner

__all__ = ["FEW_MATCHES", "MOST_MATCHES", "REACH_ENTRIES", "SAMPLE_ROWS", "Finder", "Route", "rare_part",
           "rarest_share"]

#: The business's newest rows that tell a common term from a rare one. A business with
#: fewer rows is read whole through its sort index (a walk), which is quick at that size.
SAMPLE_ROWS = 1000
#: Rows of the sample holding a term that make it common: 3 in 1,000 put a page of 50
#: within about 17,000 entries of the sort index, inside a reach.
COMMON_IN_SAMPLE = 3
#: Entries of the sort index a reach reads (about 7 ms at a million customers): a term in
#: 0.16 % of the rows fills a page of 50 within them.
REACH_ENTRIES = 32_000
#: A rare term's first collect takes at most this many matches (a page and a few: under a
#: millisecond at a million customers even when there are more).
FEW_MATCHES = 60
#: A collect sorts at most this many matches; more, and the sort index is read instead, up
#: to where the page ends at the latest (the ``wanted``-th of the matches found).
MOST_MATCHES = 2000
#: A trigram piece in at most this share of the sample has a short index list: a lookup
#: steps through the other pieces' lists along it. A term seen in the sample whose pieces
#: are all more common than this (``ana gar``) is reached first, not collected.
SHORT_LIST = 0.01
#: A piece in this share of the sample is left out of a lookup (``cus`` of ``customer777``).
EVERYWHERE = 0.5
#: A table row read and dropped costs about as many entries of an index list (0.8 µs
#: against 0.003 µs at a million customers): it decides whether a lookup reads the
#: business's own list of the trigram index or drops other businesses' rows.
ROW_COST_IN_ENTRIES = 270


@dataclass(frozen=True, slots=True)
class Route:
    """A substring search's route on PostgreSQL, forced rather than chosen from the sample
    (tests and benches): what it tries first, and the limits of each step.

    ``start``: ``collect`` (a rare term's few matches), ``reach`` (the sort index's first
    entries; the blocks instead when they are ready), ``skim`` (the blocks whether or not
    they look ready) or ``walk`` (the sort index to the page's end, as for a small business).
    ``by_business``: whether a trigram lookup reads the business's own list (None: the
    cheaper, by the estimates)."""

    start: Literal["collect", "reach", "skim", "walk"] = "reach"
    reach: int = REACH_ENTRIES
    few: int = FEW_MATCHES
    most: int = MOST_MATCHES
    by_business: bool | None = None
    dense_lead: int = blocks.DENSE_LEAD
    dense_blocks: int = blocks.DENSE_BLOCKS


def rows_holding(part: str, sample: list[str]) -> int:
    """How many rows of ``sample`` hold ``part``."""
    return sum(map(contains, sample, repeat(part)))


def rare_part(needle: str, sample: list[str]) -> str | None:
    """The longest part of ``needle`` none of whose three-character pieces is in most rows
    of ``sample`` (a lookup of it reads short lists only); None when there is none."""
    common = [rows_holding(needle[i:i + 3], sample) >= EVERYWHERE * len(sample) for i in range(len(needle) - 2)]
    best, start = (0, 0), None
    for i, is_common in enumerate([*common, True]):
        if not is_common and start is None:
            start = i
        elif is_common and start is not None:
            best, start = max(best, (start, i), key=lambda run: run[1] - run[0]), None
    part = needle[best[0]:best[1] + 2] if best[1] > best[0] else ""
    return part if any(part[i:i + 3].isalnum() for i in range(len(part) - 2)) else None


def rarest_share(part: str, sample: list[str]) -> float:
    """The share of ``sample`` holding the rarest three-letter piece of ``part`` (letters or
    digits, as pg_trgm's pieces are): about how long a lookup's shortest list is."""
    pieces = {part[i:i + 3] for i in range(len(part) - 2) if part[i:i + 3].isalnum()}
    return min((rows_holding(piece, sample) for piece in pieces), default=len(sample)) / max(len(sample), 1)


def choose(needle: str, sample: list[str]) -> Route | None:
    """The route the sample says (None: the sample is the whole business, walk it)."""
    if len(sample) < SAMPLE_ROWS:
        return None
    hits, probe = rows_holding(needle, sample), rare_part(needle, sample)
    rare = probe is not None and (not hits or (hits < COMMON_IN_SAMPLE and rarest_share(probe, sample) <= SHORT_LIST))
    return Route(start="collect" if rare else "reach")


#: The business's share of the customers table, from the planner's own estimates (the app's
#: role may not read pg_stats; row-level security scales both estimates alike).
_SHARE = text("EXPLAIN (FORMAT JSON) SELECT 1 FROM customers WHERE business_id = :business "
              "UNION ALL SELECT 1 FROM customers")


class Finder:
    """The ids of a substring search's first matches in sort order, and the step that
    found them (``answer``); the page's rows a step read along the way are kept (``read``)."""

    def __init__(self, session: Session, business_id: int, needle: str, sort_key: SortKey, *, skip: int,
                 route: Route | None) -> None:
        self.session, self.business_id, self.needle, self.sort_key = session, business_id, needle, sort_key
        self.skip, self.route, self.answer = skip, route, ""
        self.read: dict[int, Row] = {}
        self.connection = session.connection()

    def _run(self, statement, **params):
        return self.connection.execute(statement, {"business": self.business_id, "needle": self.needle, **params})

    def first(self, wanted: int) -> list[int]:
        """The first ``wanted`` matches."""
        with planner(self.session, SORT_INDEX) as self.use:
            sample = self._run(statements.sample(), rows=SAMPLE_ROWS).scalars().all()
            route = self.route or choose(self.needle, sample)
            if route is None or route.start == "walk":
                return self._walk(wanted)
            self.route, probe = route, rare_part(self.needle, sample)
            steps = [partial(self._skim, force=route.start == "skim"), self._reach,
                     partial(self._collect, probe, route.most, sample)]
            if route.start == "collect":
                steps.insert(0, partial(self._collect, probe, route.few, sample))
            for step in steps:
                ids = step(wanted)
                if ids is not None:
                    return ids
            return self._walk_all(wanted)

    def _found(self, answer: str, rows) -> list[int]:
        """The ids of a read's ``rows``, keeping the page's customers they carry."""
        self.answer = answer
        self.read.update((row.found, row) for row in rows if row.id is not None)
        return [row.found for row in rows]

    def _skim(self, wanted: int, *, force: bool = False) -> list[int] | None:
        """The first ``wanted`` matches read in the blocks that may hold the term; None in a
        date order, for a one-letter term, or when the blocks are not ready (unless forced)."""
        if self.sort_key.column != "name" or len(self.needle) < 2:
            return None
        if not force and not self.blocks_ready:
            return None
        rows = self._run(blocks.skim(), pieces=blocks.pieces(self.needle), wanted=wanted, skip=self.skip,
                         dense_lead=self.route.dense_lead, dense_blocks=self.route.dense_blocks).all()
        return self._found("skim", rows)

    @cached_property
    def blocks_ready(self) -> bool:
        """Whether the business's blocks can be used now, once asked."""
        return blocks.ready(self.session, self.business_id)

    def _walk_all(self, wanted: int) -> list[int]:
        """The first ``wanted`` matches: skimmed when the blocks are ready, else walked."""
        ids = self._skim(wanted)
        return self._walk(wanted) if ids is None else ids

    def _walk(self, wanted: int, last: tuple | None = None) -> list[int]:
        """The first ``wanted`` matches, reading the sort indexes until found (and no further
        than the row ``last``, when given)."""
        if last is None:
            rows = self._run(statements.walk(self.sort_key), wanted=wanted, skip=self.skip).all()
        else:
            rows = self._run(statements.walk(self.sort_key, bounded=True), wanted=wanted, skip=self.skip,
                             last_key=last[0], last_id=last[1]).all()
        return self._found("walk", rows)

    def _reach(self, wanted: int) -> list[int] | None:
        """The first ``wanted`` matches among the first entries of the sort index and the long
        rows; None when they are fewer (long rows past the reach's end may not come next)."""
        rows = self._run(statements.reach(self.sort_key), wanted=wanted, entries=self.route.reach,
                         skip=self.skip).all()
        if sum(1 for row in rows if row.short) < wanted:
            return None
        return self._found("reach", rows[:wanted])

    def _collect(self, probe: str | None, most: int, sample: list[str], wanted: int) -> list[int] | None:
        """The first ``wanted`` matches through the trigram index, looked up with ``probe`` (a
        part of the term; the whole term is checked on each row): all of them, sorted, when
        there are at most ``most``; None without a probe.

        More still tells where the page ends at the latest: ``wanted`` of the rows found,
        sorted, end at a row the page cannot pass, and the part of the table read to find
        them tells how many entries of the sort index hold a page of matches. Within a
        reach, the sort index is read: the first entries when all those rows are short
        ones (skimmed if the page is not among them after all), else up to that row (the
        bound costs a comparison per entry). Further, up to ``most`` of the route are
        collected instead."""
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
            self.answer = "collect"
            return [row.id for row in rows]
        [found] = rows  # more than most: the one row back is the wanted-th found
        if most < self.route.most and (found.table_rows < 0 or self._too_far(found, wanted)):
            return self._collect(probe, self.route.most, sample, wanted)  # (or never analyzed: nothing tells)
        if not found.any_long:
            ids = self._reach(wanted)
            return self._walk_all(wanted) if ids is None else ids
        ids = self._walk(wanted, (found.key, found.id))
        # fewer when a match before the bound was changed since the lookup: read on
        return ids if len(ids) >= wanted else self._walk_all(wanted)

    @cached_property
    def share(self) -> float:
        """The business's share of the customers table (0 for a plan of another shape)."""
        [[plan]] = self.session.exec(_SHARE, params={"business": self.business_id}).one()
        rows = [part.get("Plan Rows", 0) for part in plan["Plan"].get("Plans", ())
                if part.get("Parent Relationship") == "Member"]
        return min(rows[0] / rows[1], 1.0) if len(rows) == 2 and rows[1] else 0.0

    def _too_far(self, found, wanted: int) -> bool:
        """Whether a page of matches lies further than a reach, judging by the ``found.total``
        matches a lookup found in the part of the table it read."""
        business_rows = self.share * found.table_rows * min(found.pages_read / max(found.pages, 1), 1.0)
        return wanted * business_rows > self.route.reach * found.total

    def _by_business(self, probe: str, sample: list[str]) -> bool:
        """Whether a lookup reads the business's list of the trigram index (3 ms at a million
        rows) rather than only the probe's lists, dropping other businesses' rows: which
        costs less, by the business's share of the table and the probe's of the sample."""
        if self.route.by_business is not None:
            return self.route.by_business
        others = max(rarest_share(probe, sample), 0.5 / max(len(sample), 1)) * (1 - self.share)
        return others * ROW_COST_IN_ENTRIES >= self.share
