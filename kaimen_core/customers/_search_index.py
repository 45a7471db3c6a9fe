"""PostgreSQL: a block index of a large business's name order, for substring searches.

The name order is split into blocks of about ``BLOCK_ROWS`` customers; for each two- and
three-character piece of the search column, a bit string says which blocks hold it
(migration 0011). Every row holding a term holds each of its pieces, so only the blocks
whose bits are set for all of them can hold a match: a search reads the sort index in
those blocks alone, in order, and stops when its page is full (:func:`skim`). A first
name in 4 % of a million customers, all at the end of the alphabet, is found in the
first block the bits point to, rather than after reading 960,000 entries.

The bits may be set where nothing matches (a block merely slower to read), never clear
where something does. Each customer added, changed or removed leaves a change row (a
trigger, in the same transaction), and a search also reads the changed rows themselves,
until the worker folds them into the bits (``_search_upkeep``). A business of fewer than
``INDEX_FROM`` customers has no blocks: its searches are quick without them.

Pieces are stored as the first 32 bits of their MD5 (:func:`pieces`, and
``customer_search_piece`` in SQL): two pieces that share them only set more bits.
"""

from __future__ import annotations

from functools import cache
from hashlib import md5

from sqlalchemy import ARRAY, BigInteger, Integer, String, bindparam, column, text
from sqlmodel import Session

from kaimen_core.customers._search_sql import SHORT_TEXT_BYTES, SortKey, with_page_rows

__all__ = ["BLOCK_ROWS", "INDEX_FROM", "MAX_CHANGES", "in_block", "pieces", "ready", "skim"]

#: Customers per block (a block's sort-index entries take about 0.2 ms to read).
BLOCK_ROWS = 1000
#: A business with fewer customers has no blocks: a search reads its sort index quickly.
INDEX_FROM = 32_000
#: Change rows beyond which a search does not use the blocks: it reads every changed row
#: (about a microsecond each), and the worker folds them within a minute.
MAX_CHANGES = 1000


def pieces(needle: str) -> list[int]:
    """The distinct pieces of ``needle`` as stored: its three-character pieces, or itself when
    it has two characters (none when it has one)."""
    size = min(len(needle), 3)
    # MD5 as a spread of 32 bits that PostgreSQL computes alike, not for security
    return sorted({int.from_bytes(md5(needle[i:i + size].encode(), usedforsecurity=False).digest()[:4], "big",
                                  signed=True) for i in range(len(needle) - size + 1)} if size >= 2 else set())


def in_block(block: str, columns: str, *, short: bool | None = None, where: str = "", limit: bool = True) -> str:
    """A lateral read of the customers in ``block`` (a row of customer_search_blocks) through
    the ``(business, name, id)`` indexes, in name order: ``short`` rows only, long ones only,
    or both (each index is partial), up to ``wanted`` of each when ``limit``. The last block
    has no end, and is read by a second part of its own that only it passes (a NULL bound
    would leave no index condition)."""
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
_MASK = ("SELECT bit_and(g.blocks) AS m FROM customer_search_grams g WHERE g.business_id = :business "
         "AND g.piece = ANY(:pieces) HAVING count(*) = cardinality(:pieces)")
#: Of the first ``DENSE_OF`` blocks, this many may hold the term: those blocks are then read
#: in one go, from the start of the sort index. Each block read on its own costs a descent
#: of the index and a comparison of names at both ends (about twice the time per entry),
#: which only pays when blocks are skipped.
DENSE_OF, DENSE = 16, 12
_DENSE = ("(SELECT count(*) FROM mask, generate_series(0, least(length(mask.m), :dense_of) - 1) AS i "
          "WHERE get_bit(mask.m, i) = 1) >= :dense")
_HOLDS = "strpos(c.search_text, :needle) > 0"
_SHORT = f"octet_length(c.search_text) <= {SHORT_TEXT_BYTES}"


@cache
def skim():
    """The first ``wanted`` customers holding ``needle`` in name order (as a walk hands them
    over: the page's columns, then ``found``, the id), from:

    * the short rows of the blocks whose bits are set for all ``pieces`` (the needle's),
      read block by block in order until ``wanted`` are found; but when ``dense`` of the
      first ``dense_of`` blocks may hold the term, those first blocks are read in one go
      from the start of the sort index (``early``), and the blocks after them one by one
      only if the page is not full yet; when the business has no blocks (a fold dropped
      them since the search asked :func:`ready`), the sort index is read from the start;
    * the changed rows not folded into the bits yet;
    * the long rows (few; in no block read here).

    One statement, so one snapshot: a fold commits its bits and removes its change rows
    together. Parameters besides a walk's: ``pieces``, ``dense_of`` and ``dense``. Run with
    the SORT_INDEX planner settings: the blocks in order, and an incremental sort within
    each."""
    early_rows = f"c.business_id = :business AND {_SHORT} AND {_HOLDS}"
    statement = f"""
        WITH mask AS MATERIALIZED ({_MASK}),
        dense AS MATERIALIZED (SELECT {_DENSE} AS yes),
        bound AS MATERIALIZED (SELECT start_name, start_id FROM customer_search_blocks
                               WHERE business_id = :business AND block = :dense_of),
        early AS MATERIALIZED (
            (SELECT c.id, c.name AS key FROM customers c
             WHERE (SELECT yes FROM dense) AND {early_rows}
               AND (c.name, c.id) < ((SELECT start_name FROM bound), (SELECT start_id FROM bound))
             ORDER BY c.name, c.id LIMIT :wanted)
            UNION ALL
            (SELECT c.id, c.name FROM customers c
             WHERE ((SELECT yes FROM dense) AND NOT EXISTS (SELECT FROM bound)
                    OR NOT EXISTS (SELECT FROM customer_search_blocks WHERE business_id = :business))
               AND {early_rows}
             ORDER BY c.name, c.id LIMIT :wanted))
        SELECT f.id, f.key FROM (
            (SELECT m.id, m.key FROM customer_search_blocks r
             CROSS JOIN LATERAL ({in_block('r', 'c.id, c.name AS key', short=True, where=f'AND {_HOLDS}')}) m
             WHERE (SELECT count(*) FROM early) < :wanted
               AND (NOT (SELECT yes FROM dense) OR r.block >= :dense_of)
               AND r.business_id = :business AND get_bit((SELECT m FROM mask), r.block) = 1
             ORDER BY r.block, m.key, m.id LIMIT :wanted)
            UNION
            SELECT id, key FROM early
            UNION
            (SELECT c.id, c.name FROM customer_search_changes ch JOIN customers c ON c.id = ch.customer_id
             WHERE ch.business_id = :business AND c.business_id = :business AND {_HOLDS})
            UNION
            (SELECT c.id, c.name FROM customers c
             WHERE c.business_id = :business AND octet_length(c.search_text) > {SHORT_TEXT_BYTES} AND {_HOLDS}
             ORDER BY c.name, c.id LIMIT :wanted)
        ) f ORDER BY f.key, f.id LIMIT :wanted"""
    found = (text(statement)
             .bindparams(bindparam("business", type_=BigInteger), bindparam("needle", type_=String),
                         bindparam("pieces", type_=ARRAY(Integer)), bindparam("wanted", type_=Integer),
                         bindparam("dense_of", type_=Integer), bindparam("dense", type_=Integer))
             .columns(column("id", BigInteger), column("key", String)).subquery("f"))
    return with_page_rows(found, SortKey("name", descending=False))


_READY = text("""
    SELECT EXISTS (SELECT FROM customer_search_blocks WHERE business_id = :business)
       AND (SELECT count(*) FROM (SELECT FROM customer_search_changes
                                  WHERE business_id = :business LIMIT :most) c) < :most""")


def ready(session: Session, business_id: int) -> bool:
    """Whether the business has blocks, and few enough changes waiting to be folded in."""
    return bool(session.connection().execute(_READY, {"business": business_id, "most": MAX_CHANGES}).scalar())
