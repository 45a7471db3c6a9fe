"""What the planner's statistics say for a customer search (see ``_search``): how much of the
customers table a business holds, how many rows hold a term, how big the table is.

The app's role may not read ``pg_stats``; ``EXPLAIN`` gives the planner's own estimates.
Each share below is the ratio of two estimates in one statement, which row-level security
scales alike.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from kaimen_core import db

__all__ = ["business_share", "table_size", "term_share"]

_SHARE = text("EXPLAIN (FORMAT JSON) SELECT 1 FROM customers WHERE business_id = :business "
              "UNION ALL SELECT 1 FROM customers")
_TERM = text("EXPLAIN (FORMAT JSON) SELECT 1 FROM customers WHERE business_id = :business "
             "AND search_text LIKE :pattern ESCAPE '\\' "
             "UNION ALL SELECT 1 FROM customers WHERE business_id = :business")
_TABLE = text("SELECT reltuples, (SELECT proleakproof FROM pg_proc WHERE oid = 'textlike'::regproc) "
              "FROM pg_class WHERE oid = 'customers'::regclass")


def business_share(session: Session, business_id: int) -> float:
    """The business's share of the customers table (0 for a plan of another shape: a trigram
    lookup then keeps to the business's list)."""
    return _ratio(session, _SHARE, business=business_id)


def term_share(session: Session, business_id: int, needle: str) -> float:
    """The share of the customers whose search column holds ``needle``, from the column's
    statistics, which cover the whole table, every business together (its floor is 0.0001,
    or one row of the business's estimated rows when that is more)."""
    return _ratio(session, _TERM, business=business_id, pattern=db.contains_pattern(needle))


def table_size(session: Session) -> tuple[float, bool]:
    """The customers table's estimated rows (-1 before it was first analyzed), and whether
    the planner reads the search column's statistics for LIKE under row-level security (it
    does for LEAKPROOF operators only)."""
    table_rows, statistics = session.connection().execute(_TABLE).one()
    return table_rows, bool(statistics)


def _ratio(session: Session, explain, **params) -> float:
    """The first member's estimated rows over the second's, in a UNION ALL's plan."""
    [[plan]] = session.exec(explain, params=params).one()
    rows = [part.get("Plan Rows", 0) for part in plan["Plan"].get("Plans", ())
            if part.get("Parent Relationship") == "Member"]
    if len(rows) != 2 or not rows[1]:
        return 0.0
    return min(rows[0] / rows[1], 1.0)
