"""The search blocks (PostgreSQL): a large business's name order cut into blocks of about
``BLOCK_ROWS`` customers, each block bounded by the id of its first customer (its name is
read from the customer, never stored), and for every two- and three-character piece of
the search column (stored as 32 bits of its MD5) a bit string of the blocks that hold it.
A row holding a term holds all its pieces, so only the blocks whose bits are set for all
of them can hold a match: :func:`skim` reads the sort index in those blocks alone, in
order, and stops when its page is full. The bits may be set where nothing matches, never
clear where something does: every customer added, changed or removed leaves a change row
(a trigger, migration 0013), the search reads those customers themselves until the
worker folds them into the bits (``upkeep``), and a block whose first customer was
renamed or removed is not used until then.
"""

from __future__ import annotations

from functools import cache
from hashlib import md5

from sqlalchemy import ARRAY, BigInteger, Integer, String, bindparam, column, text
from sqlmodel import Session

from kaimen_core.customers.search.statements import INDEXED_TEXT_BYTES, SortKey, with_page_rows

__all__ = [
    "BLOCKS_FROM",
    "BLOCK_ROWS",
    "BOUNDS",
    "DENSE_BLOCKS",
    "DENSE_LEAD",
    "MAX_CHANGES",
    "in_block",
    "pieces",
    "ready",
    "skim",
]

#: Customers per block: a block's entries of the sort index take about 0.2 ms to read.
BLOCK_ROWS = 1000
#: A business with fewer customers has no blocks: its sort index is read quickly whole.
BLOCKS_FROM = 32_000
#: Changes waiting beyond which a search does without the blocks (it reads every changed
#: row itself, about a microsecond each; the worker folds them within a minute).
MAX_CHANGES = 1000
#: When ``DENSE_BLOCKS`` of the first ``DENSE_LEAD`` blocks may hold the term (digits and
#: tags are everywhere), those blocks are read in one go from the start of the sort index:
#: a block read on its own costs an index descent and a comparison at both ends.
DENSE_LEAD, DENSE_BLOCKS = 16, 12

#: A business's blocks with their bounds: the first customer's (name, id) and the next
#: block's (NULL for the last block). Block 0 starts at id 0, before every customer.
BOUNDS = """
    SELECT r.business_id, r.block, s.name AS start_name, r.start_id, e.name AS end_name,
           n.start_id AS end_id
    FROM customer_search_blocks r
    LEFT JOIN customers s ON s.id = r.start_id AND s.business_id = r.business_id
    LEFT JOIN customer_search_blocks n ON n.business_id = r.business_id AND n.block = r.block + 1
    LEFT JOIN customers e ON e.id = n.start_id AND e.business_id = r.business_id"""
#: Whether a block starts at a customer renamed or removed since the last fold: its bound
#: then says nothing of where the block began, and the blocks wait for the fold.
MOVED_START = """EXISTS (SELECT FROM customer_search_blocks b WHERE b.business_id = :business
                         AND b.start_id = ANY(ARRAY(SELECT ch.customer_id FROM customer_search_changes ch
                                                    WHERE ch.business_id = :business AND ch.moved)))"""


def pieces(needle: str) -> list[int]:
    """The distinct pieces of ``needle`` as stored: its three-character pieces, or itself when
    it has two characters (none when it has one)."""
    size = min(len(needle), 3)
    # MD5 as a spread of 32 bits that PostgreSQL computes alike, not for security
    return sorted({int.from_bytes(md5(needle[i:i + size].encode(), usedforsecurity=False).digest()[:4], "big",
                                  signed=True) for i in range(len(needle) - size + 1)} if size >= 2 else set())


def in_block(block: str, columns: str, *, short: bool | None = None, where: str = "", limit: bool = True) -> str:
    """A lateral read of the customers in ``block`` (a row of :data:`BOUNDS`) through the
    ``(business, name, id)`` indexes, in name order: ``short`` rows only, long ones only, or
    both, up to ``wanted`` of each when ``limit``. The first block has no start and the
    last no end: each is read by parts of its own, since a bound that is NULL (or made
    with ``coalesce``, which row-level security does not let into an index condition)
    would leave the index without one."""
    sizes = {True: [f"<= {INDEXED_TEXT_BYTES}"], False: [f"> {INDEXED_TEXT_BYTES}"],
             None: [f"<= {INDEXED_TEXT_BYTES}", f"> {INDEXED_TEXT_BYTES}"]}[short]
    b = block
    starts = (f"{b}.start_id = 0", f"{b}.start_id <> 0 AND (c.name, c.id) >= ({b}.start_name, {b}.start_id)")
    ends = (f"{b}.end_id IS NULL", f"{b}.end_id IS NOT NULL AND (c.name, c.id) < ({b}.end_name, {b}.end_id)")
    cut = " LIMIT :wanted" if limit else ""
    return " UNION ALL ".join(
        f"(SELECT {columns} FROM customers c WHERE {start} AND {end} AND c.business_id = :business "
        f"AND octet_length(c.search_text) {size} {where} ORDER BY c.name, c.id{cut})"
        for size in sizes for start in starts for end in ends)


#: The blocks whose bits are set for every piece of the term (NULL when a piece is in none).
_MASK = ("SELECT bit_and(g.blocks) AS m FROM customer_search_grams g WHERE g.business_id = :business "
         "AND g.piece = ANY(:pieces) HAVING count(*) = cardinality(:pieces)")
_DENSE = ("(SELECT count(*) FROM mask, generate_series(0, least(length(mask.m), :dense_lead) - 1) AS i "
          "WHERE get_bit(mask.m, i) = 1) >= :dense_blocks")
_HOLDS = "strpos(c.search_text, :needle) > 0"
_SHORT_HOLDS = f"c.business_id = :business AND octet_length(c.search_text) <= {INDEXED_TEXT_BYTES} AND {_HOLDS}"


@cache
def skim():
    """The first ``wanted`` customers holding ``needle`` in name order (as a walk hands them
    over), in one statement and so one snapshot, from:

    * the short rows of the blocks whose bits are set for all ``pieces``, block by block
      until ``wanted`` are found; but when ``dense_blocks`` of the first ``dense_lead`` may
      hold the term, those are read in one go from the start of the sort index (``early``),
      and the later ones block by block only if the page is not full yet; when the blocks
      cannot be used (none, or one starts at a customer moved since the fold) the sort
      index is read from the start;
    * the changed rows not folded into the bits yet;
    * the long rows (few; in no block read here).

    Run with the SORT_INDEX planner settings: the blocks in order, each one's matches sorted."""
    statement = f"""
        WITH mask AS MATERIALIZED ({_MASK}),
        usable AS MATERIALIZED (SELECT EXISTS (SELECT FROM customer_search_blocks WHERE business_id = :business)
                                       AND NOT {MOVED_START} AS yes),
        dense AS MATERIALIZED (SELECT {_DENSE} AS yes),
        bound AS MATERIALIZED (SELECT b.start_name, b.start_id FROM ({BOUNDS}) b
                               WHERE b.business_id = :business AND b.block = :dense_lead),
        early AS MATERIALIZED (
            (SELECT c.id, c.name AS key FROM customers c
             WHERE (SELECT yes FROM dense) AND (SELECT yes FROM usable) AND {_SHORT_HOLDS}
               AND (c.name, c.id) < ((SELECT start_name FROM bound), (SELECT start_id FROM bound))
             ORDER BY c.name, c.id LIMIT :wanted)
            UNION ALL
            (SELECT c.id, c.name FROM customers c
             WHERE ((SELECT yes FROM dense) AND NOT EXISTS (SELECT FROM bound) OR NOT (SELECT yes FROM usable))
               AND {_SHORT_HOLDS}
             ORDER BY c.name, c.id LIMIT :wanted))
        SELECT f.id, f.key FROM (
            (SELECT m.id, m.key FROM ({BOUNDS}) r
             CROSS JOIN LATERAL ({in_block('r', 'c.id, c.name AS key', short=True, where=f'AND {_HOLDS}')}) m
             WHERE (SELECT yes FROM usable) AND (SELECT count(*) FROM early) < :wanted
               AND (NOT (SELECT yes FROM dense) OR r.block >= :dense_lead)
               AND r.business_id = :business AND get_bit((SELECT m FROM mask), r.block) = 1
             ORDER BY r.block, m.key, m.id LIMIT :wanted)
            UNION
            SELECT id, key FROM early
            UNION
            (SELECT c.id, c.name FROM customer_search_changes ch JOIN customers c ON c.id = ch.customer_id
             WHERE ch.business_id = :business AND c.business_id = :business AND {_HOLDS})
            UNION
            (SELECT c.id, c.name FROM customers c
             WHERE c.business_id = :business AND octet_length(c.search_text) > {INDEXED_TEXT_BYTES} AND {_HOLDS}
             ORDER BY c.name, c.id LIMIT :wanted)
        ) f ORDER BY f.key, f.id LIMIT :wanted"""
    found = (text(statement)
             .bindparams(bindparam("business", type_=BigInteger), bindparam("needle", type_=String),
                         bindparam("pieces", type_=ARRAY(Integer)), bindparam("wanted", type_=Integer),
                         bindparam("dense_lead", type_=Integer), bindparam("dense_blocks", type_=Integer))
             .columns(column("id", BigInteger), column("key", String)).subquery("f"))
    return with_page_rows(found, SortKey("name", descending=False))


_READY = text(f"""
    SELECT EXISTS (SELECT FROM customer_search_blocks WHERE business_id = :business)
       AND (SELECT count(*) FROM (SELECT FROM customer_search_changes
                                  WHERE business_id = :business LIMIT :most) c) < :most
       AND NOT {MOVED_START}""")


def ready(session: Session, business_id: int) -> bool:
    """Whether the business has blocks a search can use now: few enough changes waiting,
    and none of them moves a block's first customer."""
    return bool(session.connection().execute(_READY, {"business": business_id, "most": MAX_CHANGES}).scalar())
