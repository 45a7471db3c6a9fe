"""Planner settings for the statements of a customer search on PostgreSQL (see ``_search``),
set for one transaction and put back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import text
from sqlmodel import Session

__all__ = ["SORT_INDEX", "TRIGRAM_INDEX", "planner"]

#: Planner settings: read the sort index in order (the planner cannot tell how common a
#: term is and would rather sort the whole business); or the trigram index only. The
#: costs of the paths turned off would otherwise set off JIT compilation. Reading the sort
#: index leaves the planner one path whatever the parameters: its statements keep one
#: generic plan rather than being planned again on every search (a quarter of a
#: millisecond for a walk). An incremental sort stays on for a skim of the search blocks
#: (``_search_index``): the blocks in order, each block's matches sorted as it comes, so
#: that the read stops at the block that fills the page (the other statements' plans are
#: the same with it on or off).
SORT_INDEX = {"plan_cache_mode": "force_generic_plan", "jit": "off", "enable_seqscan": "off",
              "enable_bitmapscan": "off", "enable_indexscan": "on", "enable_sort": "off",
              "enable_incremental_sort": "on", "max_parallel_workers_per_gather": "0"}
TRIGRAM_INDEX = {"plan_cache_mode": "auto", "jit": "off", "enable_seqscan": "off", "enable_bitmapscan": "on",
                 "enable_indexscan": "off", "enable_sort": "on", "enable_incremental_sort": "on",
                 "max_parallel_workers_per_gather": "0"}
#: Reads each setting, then sets it (a row's columns are computed in order).
_SWAP = text("SELECT n, current_setting(n), set_config(n, v, true) "
             "FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(n, v)")
_SET = text("SELECT set_config(n, v, true) FROM unnest(CAST(:names AS text[]), CAST(:values AS text[])) AS s(n, v)")


@contextmanager
def planner(session: Session, settings: dict[str, str]) -> Iterator:
    """Planner settings for the statements inside (yielding a function that switches to
    others), put back afterwards; they last for this transaction only."""
    swapped = session.exec(_SWAP, params={"names": list(settings), "values": list(settings.values())}).all()
    before = {name: value for name, value, _ in swapped}

    def use(chosen: dict[str, str]) -> None:
        session.exec(_SET, params={"names": list(chosen), "values": list(chosen.values())})

    try:
        yield use
    except BaseException:
        with suppress(Exception):  # an aborted transaction takes its settings with it
            use(before)
        raise
    use(before)
