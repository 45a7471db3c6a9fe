"""PostgreSQL: a block index of a large business's name order, for substring searches.

The name order is split into blocks of about ``BLOCK_ROWS`` customers; for each
three-character piece of the search column, a bit string says which blocks hold it
(migration 0011). Every row holding a term holds each of its pieces, so only the blocks
whose bits are set for all of them can hold a match: a search reads the sort index in
those blocks alone, in order, and stops when its page is full (:func:`skim`). A first
name in 4 % of a million customers, all at the end of the alphabet, is found in the
first block the bits point to, rather than after reading 960,000 entries.

The bits may be set where nothing matches (a block merely slower to read), never clear
where something does. Each customer added, changed or removed leaves a change row (a
trigger, in the same transaction); a search also reads the changed rows themselves; the
worker's fold (:func:`refresh_search_indexes`) sets their pieces' bits, recomputes the
blocks a removed or renamed row left (so its pieces do not outlive it there), and removes
the change rows, all in one transaction. A business of fewer than ``INDEX_FROM``
customers has no blocks (its searches are quick without them); blocks are rebuilt from
scratch when the business has grown or shrunk by half, or when a fold would touch more
than a quarter of them.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import ARRAY, BigInteger, Engine, Integer, String, bindparam, column, text
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.customers._search_sql import SHORT_TEXT_BYTES, SortKey, with_page_rows

__all__ = ["BLOCK_ROWS", "INDEX_FROM", "MAX_CHANGES", "build", "pieces", "ready", "refresh_search_index",
           "refresh_search_indexes", "skim"]

#: Customers per block (a block's sort-index entries take about 0.2 ms to read).
BLOCK_ROWS = 1000
#: A business with fewer customers has no blocks: a search reads its sort index quickly.
INDEX_FROM = 32_000
#: Change rows beyond which a search does not use the blocks (it would read them all).
MAX_CHANGES = 5000


def pieces(needle: str) -> list[str]:
    """The distinct three-character pieces of ``needle`` (none when it is shorter)."""
    return sorted({needle[i:i + 3] for i in range(len(needle) - 2)})


def _in_block(block: str, columns: str, *, short: bool | None = None, where: str = "", limit: bool = True) -> str:
    """A lateral read of the customers in ``block`` (a row of customer_search_blocks) through
    the ``(business, name, id)`` indexes, in name order: ``short`` rows only, long ones only,
    or both (each index is partial). The last block has no end, and is read by a second
    part of its own that only it passes (a NULL bound would leave no index condition)."""
    sizes = {True: [f"<= {SHORT_TEXT_BYTES}"], False: [f"> {SHORT_TEXT_BYTES}"],
             None: [f"<= {SHORT_TEXT_BYTES}", f"> {SHORT_TEXT_BYTES}"]}[short]
    parts, cut = [], " LIMIT :wanted" if limit else ""
    for size in sizes:
        common = (f"c.business_id = :business AND octet_length(c.search_text) {size} "
                  f"AND (c.name, c.id) >= ({block}.start_name, {block}.start_id) {where}")
        parts.append(f"(SELECT {columns} FROM customers c WHERE {common} "
                     f"AND (c.name, c.id) < ({block}.end_name, {block}.end_id) ORDER BY c.name, c.id{cut})")
        parts.append(f"(SELECT {columns} FROM customers c WHERE {block}.end_name IS NULL AND {common} "
                     f"ORDER BY c.name, c.id{cut})")
    return " UNION ALL ".join(parts)


#: The blocks whose bits are set for every piece of the term (NULL when a piece is in none).
_MASK = ("(SELECT bit_and(g.blocks) FROM customer_search_grams g WHERE g.business_id = :business "
         "AND g.gram = ANY(:grams) HAVING count(*) = cardinality(:grams))")


@cache
def skim():
    """The first ``wanted`` customers holding ``needle`` in name order (as a walk hands them
    over: the page's columns, then ``found``, the id): the short
    rows of the blocks ``grams`` (the needle's pieces) point to, read block by block in
    order until ``wanted`` are found; the changed rows not yet folded into the bits; and
    the long rows (few; they are in no block read here). Run with the SKIM_INDEX planner
    settings: the blocks in order, and an incremental sort within each."""
    holds = "AND strpos(c.search_text, :needle) > 0"
    statement = f"""
        SELECT f.id, f.key FROM (
            (SELECT m.id, m.key FROM customer_search_blocks r
             CROSS JOIN LATERAL ({_in_block('r', 'c.id, c.name AS key', short=True, where=holds)}) m
             WHERE r.business_id = :business AND get_bit({_MASK}, r.block) = 1
             ORDER BY r.block, m.key, m.id LIMIT :wanted)
            UNION
            (SELECT c.id, c.name FROM customer_search_changes ch JOIN customers c ON c.id = ch.customer_id
             WHERE ch.business_id = :business AND c.business_id = :business {holds})
            UNION
            (SELECT c.id, c.name FROM customers c
             WHERE c.business_id = :business AND octet_length(c.search_text) > {SHORT_TEXT_BYTES} {holds}
             ORDER BY c.name, c.id LIMIT :wanted)
        ) f ORDER BY f.key, f.id LIMIT :wanted"""
    found = (text(statement)
             .bindparams(bindparam("business", type_=BigInteger), bindparam("needle", type_=String),
                         bindparam("grams", type_=ARRAY(String)), bindparam("wanted", type_=Integer))
             .columns(column("id", BigInteger), column("key", String)).subquery("f"))
    return with_page_rows(found, SortKey("name", descending=False))


_READY = text("""
    SELECT EXISTS (SELECT 1 FROM customer_search_blocks WHERE business_id = :business)
       AND (SELECT count(*) FROM (SELECT 1 FROM customer_search_changes
                                  WHERE business_id = :business LIMIT :most) c) < :most""")


def ready(session: Session, business_id: int) -> bool:
    """Whether the business has blocks, and few enough changes waiting to be folded in."""
    return bool(session.connection().execute(_READY, {"business": business_id, "most": MAX_CHANGES}).scalar())


# --- keeping the blocks (the worker) ------------------------------------------------------

#: Every business's blocks and pieces, from its customers in name order (one statement: one
#: snapshot). Block 0 starts before any customer; each block ends where the next starts.
_BUILD = text("""
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
    )
    INSERT INTO customer_search_grams (business_id, gram, blocks)
    SELECT :business, p.gram,
           bit_or(set_bit((SELECT lpad('', count(*)::int, '0')::varbit FROM starts), p.block, 1))
    FROM (SELECT DISTINCT substr(r.search_text, i, 3) AS gram, (r.n / :size)::int AS block
          FROM ranked r, generate_series(1, char_length(r.search_text) - 2) AS i) p
    GROUP BY p.gram""")

#: The pieces of the blocks ``touched``, with their bits among the business's ``zeros``.
_PRESENT = f"""
    SELECT p.gram, bit_or(set_bit(CAST(:zeros AS varbit), p.block, 1)) AS mask
    FROM (SELECT DISTINCT t.block, substr(c.search_text, i, 3) AS gram
          FROM customer_search_blocks t
          CROSS JOIN LATERAL ({_in_block('t', 'c.search_text', limit=False)}) c
          CROSS JOIN LATERAL generate_series(1, char_length(c.search_text) - 2) AS i
          WHERE t.business_id = :business AND t.block = ANY(:touched)) p
    GROUP BY p.gram"""

#: Recompute the bits of the blocks ``touched`` from their rows as they are now.
_REFRESH = text(f"""
    WITH present AS MATERIALIZED ({_PRESENT}),
    kept AS (
        UPDATE customer_search_grams g
        SET blocks = (g.blocks & CAST(:keep AS varbit)) | coalesce(u.mask, CAST(:zeros AS varbit))
        FROM (SELECT o.gram, p.mask FROM customer_search_grams o LEFT JOIN present p ON p.gram = o.gram
              WHERE o.business_id = :business
                AND ((o.blocks & CAST(:touched_bits AS varbit)) <> CAST(:zeros AS varbit) OR p.gram IS NOT NULL)) u
        WHERE g.business_id = :business AND g.gram = u.gram
        RETURNING g.gram
    )
    INSERT INTO customer_search_grams (business_id, gram, blocks)
    SELECT :business, p.gram, p.mask FROM present p WHERE p.gram NOT IN (SELECT gram FROM kept)""").bindparams(
    bindparam("touched", type_=ARRAY(Integer)))


#: Removes the business's change rows; returns the blocks they touch: where each changed or
#: removed row was, and where each changed or added row is now.
_TOUCHED = text("""
    WITH gone AS (DELETE FROM customer_search_changes WHERE business_id = :business
                  RETURNING customer_id, stale_block)
    SELECT stale_block FROM gone WHERE stale_block IS NOT NULL
    UNION
    SELECT customer_search_block(c.business_id, c.name, c.id) FROM gone JOIN customers c
        ON c.id = gone.customer_id AND c.business_id = :business""")


def _run(session: Session, statement, business_id: int, **params):
    if isinstance(statement, str):
        statement = text(statement)
    return session.connection().execute(statement, {"business": business_id, **params})


def build(session: Session, *, business_id: int) -> int:
    """(Re)build the business's blocks from its customers as they are now (the changes
    waiting are then in them, and are removed); returns how many blocks."""
    _run(session, "DELETE FROM customer_search_changes WHERE business_id = :business", business_id)
    _run(session, "DELETE FROM customer_search_grams WHERE business_id = :business", business_id)
    _run(session, "DELETE FROM customer_search_blocks WHERE business_id = :business", business_id)
    _run(session, _BUILD, business_id, size=BLOCK_ROWS)
    return _run(session, "SELECT count(*) FROM customer_search_blocks WHERE business_id = :business",
                business_id).scalar_one()


def _drop(session: Session, business_id: int) -> None:
    _run(session, "DELETE FROM customer_search_changes WHERE business_id = :business", business_id)
    _run(session, "DELETE FROM customer_search_grams WHERE business_id = :business", business_id)
    _run(session, "DELETE FROM customer_search_blocks WHERE business_id = :business", business_id)


def refresh_search_index(session: Session, *, business_id: int) -> str:
    """Fold the business's waiting changes into its blocks (building or dropping them as its
    size asks); returns what was done: ``unchanged``, ``small``, ``dropped``, ``built`` or
    ``refreshed``. One fold per business at a time (an advisory lock for the transaction)."""
    _run(session, "SELECT pg_advisory_xact_lock(hashtext('customer_search_index'), "
                  "CAST(:business % 2147483647 AS int))", business_id)
    waiting = _run(session, "SELECT count(*) FROM customer_search_changes WHERE business_id = :business",
                   business_id).scalar_one()
    if not waiting:
        return "unchanged"
    blocks = _run(session, "SELECT count(*) FROM customer_search_blocks WHERE business_id = :business",
                  business_id).scalar_one()
    rows = _run(session, "SELECT count(*) FROM customers WHERE business_id = :business", business_id).scalar_one()
    if rows < INDEX_FROM:
        _drop(session, business_id)
        return "dropped" if blocks else "small"
    # no blocks yet, the business grown or shrunk by half, or so many changes that a quarter
    # of the blocks would likely be recomputed: build them again
    if not blocks or not blocks * BLOCK_ROWS // 2 <= rows <= 2 * blocks * BLOCK_ROWS or waiting > rows // 4:
        build(session, business_id=business_id)
        return "built"
    touched = sorted(_run(session, _TOUCHED, business_id).scalars())
    if len(touched) > blocks // 4:
        build(session, business_id=business_id)
        return "built"
    if touched:
        _refresh(session, business_id, blocks, touched)
    return "refreshed"


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
    for each business that had some. Nothing on SQLite."""
    with db.system_session(engine=engine) as session:
        if session.connection().dialect.name != "postgresql":
            return {}
        waiting = session.connection().execute(
            text("SELECT DISTINCT business_id FROM customer_search_changes ORDER BY 1")).scalars().all()
    done = {}
    for business_id in waiting:
        with db.system_session(engine=engine) as session:
            done[business_id] = refresh_search_index(session, business_id=business_id)
    return done
