"""PostgreSQL: keeping the search blocks of ``_search_index`` in step with the customers.

The worker's ``search_index`` job folds each business's change rows every minute
(:func:`refresh_search_indexes`): in one transaction per business, under an advisory lock,
it removes the change rows, sets the pieces of the rows changed or added in the blocks
they are now in, and recomputes from their rows as they are now the blocks a changed or
removed row was in, so its pieces do not outlive it there. A block whose first customer
was renamed or removed starts at the next customer instead, so no name outlives its
customer in the blocks either; an erasure folds at once (kaimen_core.privacy), before its
verification reads every table.

The blocks are built again from scratch when the business has none yet and has reached
``INDEX_FROM`` customers, has grown or shrunk by half since they were built, or has so
many changes waiting that a quarter of them would be recomputed anyway; and once a day
when anything changed (a row changed while its blocks were being built may have recorded
a block of the old ones). Below ``INDEX_FROM`` the blocks are dropped.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import ARRAY, Engine, Integer, bindparam, text
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.customers import _search_index as index
from kaimen_core.logs import failure_reason

__all__ = ["REBUILD_AFTER", "build", "refresh_search_index", "refresh_search_indexes"]

log = logging.getLogger(__name__)

#: Blocks older than this are built again at the next fold that has changes.
REBUILD_AFTER = timedelta(days=1)


def _pairs(rows: str) -> str:
    """Each block's pieces, (gram, block), from ``rows`` (a relation of search columns and
    their blocks): its three-character pieces, their first two characters, and each row's
    last two (so a two-letter term has pieces too)."""
    return f"""
        WITH threes AS MATERIALIZED (SELECT DISTINCT substr(r.search_text, i, 3) AS gram, r.block
                                     FROM {rows} r, generate_series(1, char_length(r.search_text) - 2) AS i)
        SELECT gram, block FROM threes
        UNION SELECT left(gram, 2), block FROM threes
        UNION SELECT right(r.search_text, 2), r.block FROM {rows} r WHERE char_length(r.search_text) >= 2"""


#: A business's blocks and pieces from its customers in name order (one statement: one
#: snapshot). Block 0 starts before any customer; each block ends where the next starts.
_BUILD = text(f"""
    WITH ranked AS MATERIALIZED (
        SELECT name, id, search_text, (row_number() OVER (ORDER BY name, id) - 1) AS n
        FROM customers WHERE business_id = :business
    ), starts AS (
        SELECT (n / :size)::int AS block, name, id FROM ranked WHERE n % :size = 0
    ), placed AS (
        INSERT INTO customer_search_blocks (business_id, block, start_name, start_id, end_name, end_id)
        SELECT :business, block, CASE WHEN block = 0 THEN '' ELSE name END, CASE WHEN block = 0 THEN 0 ELSE id END,
               lead(name) OVER (ORDER BY block), lead(id) OVER (ORDER BY block)
        FROM starts
    ), rows_in_blocks AS (
        SELECT search_text, (n / :size)::int AS block FROM ranked
    )
    INSERT INTO customer_search_grams (business_id, piece, blocks)
    SELECT :business, customer_search_piece(p.gram),
           bit_or(set_bit((SELECT lpad('', count(*)::int, '0')::varbit FROM starts), p.block, 1))
    FROM ({_pairs('rows_in_blocks')}) p
    GROUP BY 2""")

_AFTER_START = "AND (c.name, c.id) > (b.start_name, b.start_id)"

#: Removes the business's change rows; returns the blocks they touch (where each changed or
#: removed row was, and where each changed or added row is now) and the blocks that start
#: at a customer since renamed or removed (one whose email or tags changed stays their start).
_TAKE = text("""
    WITH gone AS (DELETE FROM customer_search_changes WHERE business_id = :business
                  RETURNING customer_id, stale_block)
    SELECT 'touched' AS kind, stale_block AS block FROM gone WHERE stale_block IS NOT NULL
    UNION
    SELECT 'touched', customer_search_block(c.business_id, c.name, c.id) FROM gone JOIN customers c
        ON c.id = gone.customer_id AND c.business_id = :business
    UNION
    SELECT 'starts', b.block FROM gone JOIN customer_search_blocks b
        ON b.business_id = :business AND b.start_id = gone.customer_id AND b.block > 0
    WHERE NOT EXISTS (SELECT FROM customers c WHERE c.business_id = :business AND c.id = b.start_id
                      AND c.name = b.start_name)""")

#: The first customer in block ``block`` after its start (run with ``wanted`` 1).
_NEXT = text(f"""
    SELECT n.name, n.id FROM customer_search_blocks b CROSS JOIN LATERAL (
        SELECT c.name, c.id FROM ({index.in_block('b', 'c.name, c.id', where=_AFTER_START)}) c
        ORDER BY c.name, c.id LIMIT 1) n
    WHERE b.business_id = :business AND b.block = :block""")
_MOVE = (text("UPDATE customer_search_blocks SET start_name = :name, start_id = :id "
              "WHERE business_id = :business AND block = :block"),
         text("UPDATE customer_search_blocks SET end_name = :name, end_id = :id "
              "WHERE business_id = :business AND block = :block - 1"))

#: The rows of the blocks ``touched`` (their search columns), and their pieces with their
#: bits among the business's ``zeros``.
_PRESENT = f"""
    touched_rows AS MATERIALIZED (
        SELECT t.block, c.search_text FROM customer_search_blocks t
        CROSS JOIN LATERAL ({index.in_block('t', 'c.search_text', limit=False)}) c
        WHERE t.business_id = :business AND t.block = ANY(:touched)
    ), present AS MATERIALIZED (
        SELECT customer_search_piece(p.gram) AS piece, bit_or(set_bit(CAST(:zeros AS varbit), p.block, 1)) AS mask
        FROM ({_pairs('touched_rows')}) p
        GROUP BY 1
    )"""

#: Recompute the bits of the blocks ``touched`` from their rows as they are now (rewriting
#: only the pieces whose bits change).
_REFRESH = text(f"""
    WITH {_PRESENT},
    kept AS (
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
    if isinstance(statement, str):
        statement = text(statement)
    return session.connection().execute(statement, {"business": business_id, **params})


def build(session: Session, *, business_id: int) -> int:
    """(Re)build the business's blocks from its customers as they are now (the changes
    waiting are then in them, and are removed); returns how many blocks."""
    _drop(session, business_id)
    _run(session, _BUILD, business_id, size=index.BLOCK_ROWS)
    return _run(session, "SELECT count(*) FROM customer_search_blocks WHERE business_id = :business",
                business_id).scalar_one()


def _drop(session: Session, business_id: int) -> None:
    for table in ("customer_search_changes", "customer_search_grams", "customer_search_blocks"):
        _run(session, f"DELETE FROM {table} WHERE business_id = :business", business_id)


def refresh_search_index(session: Session, *, business_id: int) -> str:
    """Fold the business's waiting changes into its blocks (building or dropping them as its
    size asks); returns what was done: ``unchanged``, ``small``, ``dropped``, ``built`` or
    ``refreshed`` (``unchanged`` on SQLite, which has no blocks). One fold per business
    at a time: an advisory lock for the transaction."""
    if session.connection().dialect.name != "postgresql":
        return "unchanged"
    _run(session, "SELECT pg_advisory_xact_lock(hashtext('customer_search_index'), "
                  "CAST(:business % 2147483647 AS int))", business_id)
    waiting = _run(session, "SELECT count(*) FROM customer_search_changes WHERE business_id = :business",
                   business_id).scalar_one()
    if not waiting:
        return "unchanged"
    blocks, built_at, now = _run(session, "SELECT count(*), min(built_at), now() FROM customer_search_blocks "
                                          "WHERE business_id = :business", business_id).one()
    rows = _run(session, "SELECT count(*) FROM customers WHERE business_id = :business", business_id).scalar_one()
    if rows < index.INDEX_FROM:
        _drop(session, business_id)
        return "dropped" if blocks else "small"
    if (not blocks or not blocks * index.BLOCK_ROWS // 2 <= rows <= 2 * blocks * index.BLOCK_ROWS
            or waiting > rows // 4 or built_at < now - REBUILD_AFTER):
        build(session, business_id=business_id)
        return "built"
    taken = _run(session, _TAKE, business_id).all()
    touched = {block for kind, block in taken if kind == "touched" and block is not None and block < blocks}
    starts = [block for kind, block in taken if kind == "starts"]
    # a moved start leaves the rows before it to the block before (none but the ones the
    # changes name: recompute it too, as a safeguard)
    touched.update(block - 1 for block in starts)
    if len(touched) > blocks // 4 or not all(_move_start(session, business_id, block) for block in starts):
        build(session, business_id=business_id)
        return "built"
    touched = sorted(touched)
    if touched:
        _refresh(session, business_id, blocks, touched)
    return "refreshed"


def _move_start(session: Session, business_id: int, block: int) -> bool:
    """Start ``block`` at the first customer after its start (whose customer was renamed or
    removed), and end the block before there; False when no customer is left in it (the
    blocks are then built again)."""
    found = _run(session, _NEXT, business_id, block=block, wanted=1).one_or_none()
    if found is None:
        return False
    for statement in _MOVE:
        _run(session, statement, business_id, block=block, name=found.name, id=found.id)
    return True


def _refresh(session: Session, business_id: int, blocks: int, touched: list[int]) -> None:
    """Recompute the bits of the ``touched`` blocks (of ``blocks``) from their rows; a piece
    left in no block is removed."""
    bits = ["0"] * blocks
    for block in touched:
        bits[block] = "1"
    touched_bits = "".join(bits)
    keep = touched_bits.translate(str.maketrans("01", "10"))
    zeros = "0" * blocks
    _run(session, _REFRESH, business_id, zeros=zeros, keep=keep, touched_bits=touched_bits, touched=touched)
    _run(session, "DELETE FROM customer_search_grams WHERE business_id = :business "
                  "AND blocks = CAST(:zeros AS varbit)", business_id, zeros=zeros)


def refresh_search_indexes(*, engine: Engine | None = None) -> dict[int, str]:
    """Fold every business's waiting changes (one transaction each); returns what was done
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
