"""Keeping the search blocks in step with the customers (PostgreSQL). The worker folds each
business's change rows every minute (:func:`refresh_search_indexes`), one transaction per
business under an advisory lock: a run of blocks whose first customers were renamed or
removed is cut again evenly between the blocks around it; then the change rows go, and the
blocks each changed row was in and is in now are recomputed from their rows as they are
(so a row's pieces do not outlive it). An erasure forgets its customers at once, in its
own transaction (:func:`forget_customers`). The blocks are built again from scratch when
the business reaches ``BLOCKS_FROM`` customers, grows or shrinks by half, has so many
changes waiting that a quarter of the blocks would be recomputed anyway, or once a day
when anything changed; below ``BLOCKS_FROM`` they are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import ARRAY, BigInteger, Engine, Integer, bindparam, text
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.customers.search.blocks import BLOCK_ROWS, BLOCKS_FROM, BOUNDS, in_block
from kaimen_core.logs import failure_reason

__all__ = ["REBUILD_AFTER", "build_search_blocks", "forget_customers", "refresh_search_index",
           "refresh_search_indexes"]

log = logging.getLogger(__name__)

#: Blocks older than this are built again at the next fold that has changes (a row
#: changed while they were being built may have recorded a block of the old ones).
REBUILD_AFTER = timedelta(days=1)


def _pairs(rows: str) -> str:
    """Each block's pieces (gram, block) from ``rows`` (search columns and their blocks):
    the three-character pieces, their first two characters, and each row's last two."""
    return f"""
        WITH threes AS MATERIALIZED (SELECT DISTINCT substr(r.search_text, i, 3) AS gram, r.block
                                     FROM {rows} r, generate_series(1, char_length(r.search_text) - 2) AS i)
        SELECT gram, block FROM threes
        UNION SELECT left(gram, 2), block FROM threes
        UNION SELECT right(r.search_text, 2), r.block FROM {rows} r WHERE char_length(r.search_text) >= 2"""


#: A business's blocks and pieces from its customers in name order, in one statement (one
#: snapshot). Block 0 starts at id 0, before every customer.
_BUILD = text(f"""
    WITH ranked AS MATERIALIZED (
        SELECT id, search_text, (row_number() OVER (ORDER BY name, id) - 1) AS n
        FROM customers WHERE business_id = :business
    ), starts AS (
        INSERT INTO customer_search_blocks (business_id, block, start_id)
        SELECT :business, (n / :size)::int, CASE WHEN n = 0 THEN 0 ELSE id END FROM ranked WHERE n % :size = 0
        RETURNING block
    ), rows_in_blocks AS (
        SELECT search_text, (n / :size)::int AS block FROM ranked
    )
    INSERT INTO customer_search_grams (business_id, piece, blocks)
    SELECT :business, customer_search_piece(p.gram),
           bit_or(set_bit((SELECT lpad('', count(*)::int, '0')::varbit FROM starts), p.block, 1))
    FROM ({_pairs('rows_in_blocks')}) p
    GROUP BY 2""")

#: The blocks that start at a customer renamed or removed since the last fold.
_MOVED = text("""
    SELECT DISTINCT b.block FROM customer_search_blocks b JOIN customer_search_changes ch
        ON ch.business_id = b.business_id AND ch.customer_id = b.start_id AND ch.moved
    WHERE b.business_id = :business ORDER BY 1""")
#: The customers from block ``first``'s start to block ``last``'s end that may start a
#: block (none renamed since the last fold), in name order.
_UNMOVED = ("AND NOT EXISTS (SELECT FROM customer_search_changes ch WHERE ch.business_id = :business "
            "AND ch.customer_id = c.id AND ch.moved)")
_RUN = text(f"""
    SELECT c.id FROM (SELECT a.start_name, a.start_id, z.end_name, z.end_id FROM ({BOUNDS}) a, ({BOUNDS}) z
                      WHERE a.business_id = :business AND a.block = :first
                        AND z.business_id = :business AND z.block = :last) b
    CROSS JOIN LATERAL ({in_block('b', 'c.name, c.id', where=_UNMOVED, limit=False)}) c ORDER BY c.name, c.id""")
_START = text("UPDATE customer_search_blocks SET start_id = :id WHERE business_id = :business AND block = :block")

#: Removes the change rows (of ``ids``, or all); returns the blocks they touch: where each
#: changed or removed row was, and where each changed or added row is now (the last block
#: starting at or before it). A block's first customer renamed since the blocks were cut
#: (by a transaction that committed meanwhile) keeps their change row for the next fold.
_TAKE = text(f"""
    WITH gone AS (DELETE FROM customer_search_changes WHERE business_id = :business
                  AND (CAST(:ids AS bigint[]) IS NULL OR customer_id = ANY(:ids))
                  AND NOT (moved AND customer_id IN (SELECT start_id FROM customer_search_blocks
                                                     WHERE business_id = :business))
                  RETURNING customer_id, stale_block),
    placed AS (
        SELECT x.is_row, max(x.block) OVER (ORDER BY x.name, x.id, x.is_row ROWS UNBOUNDED PRECEDING) AS block
        FROM (SELECT coalesce(b.start_name, '') AS name, b.start_id AS id, b.block, false AS is_row FROM ({BOUNDS}) b
              WHERE b.business_id = :business
              UNION ALL
              SELECT c.name, c.id, NULL, true FROM gone JOIN customers c
                  ON c.id = gone.customer_id AND c.business_id = :business) x)
    SELECT stale_block FROM gone WHERE stale_block IS NOT NULL
    UNION SELECT block FROM placed WHERE is_row""").bindparams(bindparam("ids", type_=ARRAY(BigInteger)))

#: Recompute the bits of the blocks ``touched`` from their rows as they are now, among the
#: business's ``zeros`` (rewriting only the pieces whose bits change).
_REFRESH = text(f"""
    WITH touched_rows AS MATERIALIZED (
        SELECT t.block, c.search_text FROM ({BOUNDS}) t
        CROSS JOIN LATERAL ({in_block('t', 'c.search_text', limit=False)}) c
        WHERE t.business_id = :business AND t.block = ANY(:touched)
    ), present AS MATERIALIZED (
        SELECT customer_search_piece(p.gram) AS piece, bit_or(set_bit(CAST(:zeros AS varbit), p.block, 1)) AS mask
        FROM ({_pairs('touched_rows')}) p
        GROUP BY 1
    ), kept AS (
        UPDATE customer_search_grams g SET blocks = u.blocks
        FROM (SELECT o.piece, (o.blocks & CAST(:keep AS varbit)) | coalesce(p.mask, CAST(:zeros AS varbit)) AS blocks
              FROM customer_search_grams o LEFT JOIN present p ON p.piece = o.piece
              WHERE o.business_id = :business
                AND ((o.blocks & CAST(:touched_bits AS varbit)) <> CAST(:zeros AS varbit) OR p.piece IS NOT NULL)) u
        WHERE g.business_id = :business AND g.piece = u.piece AND g.blocks <> u.blocks
        RETURNING g.piece
    )
    INSERT INTO customer_search_grams (business_id, piece, blocks)
    SELECT :business, p.piece, p.mask FROM present p
    WHERE NOT EXISTS (SELECT FROM customer_search_grams g WHERE g.business_id = :business AND g.piece = p.piece)
""").bindparams(bindparam("touched", type_=ARRAY(Integer)))


def _run(session: Session, statement, business_id: int, **params):
    statement = text(statement) if isinstance(statement, str) else statement
    return session.connection().execute(statement, {"business": business_id, **params})


def _drop(session: Session, business_id: int) -> None:
    for table in ("customer_search_changes", "customer_search_grams", "customer_search_blocks"):
        _run(session, f"DELETE FROM {table} WHERE business_id = :business", business_id)


def build_search_blocks(session: Session, *, business_id: int, block_rows: int = BLOCK_ROWS) -> int:
    """Build the business's search blocks again from its customers as they are now (the
    changes waiting are then in them, and are removed); returns how many blocks."""
    _drop(session, business_id)
    _run(session, _BUILD, business_id, size=block_rows)
    return _run(session, "SELECT count(*) FROM customer_search_blocks WHERE business_id = :business",
                business_id).scalar_one()


def refresh_search_index(session: Session, *, business_id: int, block_rows: int = BLOCK_ROWS,
                         blocks_from: int = BLOCKS_FROM) -> str:
    """Fold the business's waiting changes into its blocks (building or dropping them as its
    size asks); returns ``unchanged``, ``small``, ``dropped``, ``built`` or ``refreshed``
    (``unchanged`` on SQLite, which has no blocks)."""
    return _fold(session, business_id, None, block_rows, blocks_from)


def forget_customers(session: Session, *, business_id: int, customer_ids: Iterable[int]) -> None:
    """Forget these customers now: the blocks they were in are recomputed from the rows
    left, in the caller's transaction, so no piece of them outlives it (PostgreSQL; SQLite
    has no blocks). Call it after their rows are changed or removed."""
    ids = sorted(set(customer_ids))
    if ids:
        _fold(session, business_id, ids, BLOCK_ROWS, BLOCKS_FROM)


def _fold(session: Session, business_id: int, ids: list[int] | None, block_rows: int, blocks_from: int) -> str:
    """Fold the change rows of the customers ``ids`` (None: all) under the business's lock."""
    if session.connection().dialect.name != "postgresql":
        return "unchanged"
    _run(session, "SELECT pg_advisory_xact_lock(hashtext('customer_search_index'), "
                  "CAST(:business % 2147483647 AS int))", business_id)
    waiting = _run(session, "SELECT count(*) FROM customer_search_changes WHERE business_id = :business "
                            "AND (CAST(:ids AS bigint[]) IS NULL OR customer_id = ANY(:ids))", business_id,
                   ids=ids).scalar_one()
    if not waiting:
        return "unchanged"
    blocks, built_at, now = _run(session, "SELECT count(*), min(built_at), now() FROM customer_search_blocks "
                                          "WHERE business_id = :business", business_id).one()
    rows = _run(session, "SELECT count(*) FROM customers WHERE business_id = :business", business_id).scalar_one()
    if ids is not None and not blocks:
        return "unchanged"  # nothing holds their pieces
    if ids is None and rows < blocks_from:
        _drop(session, business_id)
        return "dropped" if blocks else "small"
    # (forgetting keeps to what the forgotten rows touch: the worker sees to the sizes)
    if ids is None and (not blocks or not blocks * block_rows // 2 <= rows <= 2 * blocks * block_rows
                        or waiting > rows // 4 or built_at < now - REBUILD_AFTER):
        build_search_blocks(session, business_id=business_id, block_rows=block_rows)
        return "built"
    touched = _cut_again(session, business_id, blocks)
    if touched is not None:
        touched |= {block for block, in _run(session, _TAKE, business_id, ids=ids) if block is not None}
    if touched is None or len(touched) > blocks // 4:
        build_search_blocks(session, business_id=business_id, block_rows=block_rows)
        return "built"
    if touched:
        _refresh(session, business_id, blocks, sorted(block for block in touched if block < blocks))
    return "refreshed"


def _cut_again(session: Session, business_id: int, blocks: int) -> set[int] | None:
    """Cut each run of blocks that start at a moved customer again, evenly from the start of
    the block before the run to the end of the run (their rows as they are now); returns
    the blocks cut, or None when a run has fewer customers than blocks (build again)."""
    moved = _run(session, _MOVED, business_id).scalars().all()
    runs: list[list[int]] = []
    for block in moved:
        if runs and runs[-1][-1] == block - 1:
            runs[-1].append(block)
        else:
            runs.append([block - 1, block])
    for run in runs:
        ids = _run(session, _RUN, business_id, first=run[0], last=run[-1]).scalars().all()
        if len(ids) < len(run):
            return None
        for j, block in enumerate(run[1:], start=1):
            _run(session, _START, business_id, block=block, id=ids[j * len(ids) // len(run)])
    return {block for run in runs for block in run}


def _refresh(session: Session, business_id: int, blocks: int, touched: list[int]) -> None:
    """Recompute the bits of the ``touched`` blocks from their rows; a piece left in no
    block is removed."""
    bits = ["0"] * blocks
    for block in touched:
        bits[block] = "1"
    touched_bits, zeros = "".join(bits), "0" * blocks
    keep = touched_bits.translate(str.maketrans("01", "10"))
    _run(session, _REFRESH, business_id, zeros=zeros, keep=keep, touched_bits=touched_bits, touched=touched)
    _run(session, "DELETE FROM customer_search_grams WHERE business_id = :business "
                  "AND blocks = CAST(:zeros AS varbit)", business_id, zeros=zeros)


def refresh_search_indexes(*, engine: Engine | None = None) -> dict[int, str]:
    """Fold every business's waiting changes, one transaction each; returns what was done
    for each business that had some (``failed`` for one whose fold raised: it is logged,
    and the others are still folded). Nothing on SQLite."""
    with db.system_session(engine=engine) as session:
        if session.connection().dialect.name != "postgresql":
            return {}
        waiting = session.connection().execute(
            text("SELECT DISTINCT business_id FROM customer_search_changes ORDER BY 1")).scalars().all()
    done = {}
    for business_id in waiting:
        try:
            with db.system_session(engine=engine) as session:
                done[business_id] = refresh_search_index(session, business_id=business_id)
        except Exception as exc:  # one business's failure (it closed meanwhile) does not stop the others
            log.error("search blocks of business %s not folded: %s", business_id, failure_reason(exc))
            done[business_id] = "failed"
    return done
