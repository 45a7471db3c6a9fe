"""Customers: the search blocks are bounded by customer ids, and keep no name.

A block's bound was its first customer's name and id (``start_name``, ``end_name``): a
copy of a name outside the customers table, kept until the next fold even after the
customer was erased. A block is now bounded by the id of its first customer alone (block
0 by id 0, before every customer); a search reads the name from the customer row, in the
same statement. A customer who starts a block and is renamed or removed moves that bound,
so their change row says so (``moved``), and a search does without the blocks until the
fold cuts that stretch of blocks again (kaimen_core.customers.search.upkeep); an erasure
does it at once. The change triggers find the block a changed or removed row was in
from the blocks' first customers (their names before the statement, when it changed
them), once per statement.

Revision ID: 0013_search_blocks_by_id
Revises: 0012_webhook_signer
Create Date: 2026-12-07 21:30:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0013_search_blocks_by_id"
down_revision = "0012_webhook_signer"
branch_labels = None
depends_on = None


def _record(rows: str) -> str:
    """A trigger's change rows for ``rows`` (business_id, id, name, moved: the rows before
    the statement). A row whose name changed, or that was removed, also gets the block it
    was in: the last block whose first customer sorts at or before it (that customer's
    name before the statement), found for all of them at once; a row that kept its name
    is in the block it was in, which the fold finds."""
    return f"""
    INSERT INTO customer_search_changes (business_id, customer_id) SELECT r.business_id, r.id FROM ({rows}) r
    WHERE NOT r.moved;
    INSERT INTO customer_search_changes (business_id, customer_id, stale_block, moved)
    SELECT y.business_id, y.id, y.block, true FROM (
        SELECT x.*, max(x.start_block) OVER (PARTITION BY x.business_id ORDER BY x.name, x.id, x.is_row
                                             ROWS UNBOUNDED PRECEDING) AS block
        FROM (SELECT r.business_id, r.name::text AS name, r.id, NULL::int AS start_block, true AS is_row
              FROM ({rows}) r WHERE r.moved
              UNION ALL
              SELECT b.business_id, coalesce(o.name, c.name, '')::text, b.start_id, b.block, false
              FROM customer_search_blocks b
              LEFT JOIN before o ON o.id = b.start_id
              LEFT JOIN customers c ON o.id IS NULL AND c.id = b.start_id AND c.business_id = b.business_id
              WHERE b.business_id IN (SELECT r.business_id FROM ({rows}) r WHERE r.moved)) x
    ) y WHERE y.is_row;"""


_CHANGED = """SELECT o.business_id, o.id, o.name, o.name IS DISTINCT FROM n.name AS moved
              FROM before o JOIN after n ON n.id = o.id
              WHERE o.name IS DISTINCT FROM n.name OR o.search_text IS DISTINCT FROM n.search_text"""
_REMOVED = """SELECT o.business_id, o.id, o.name, true AS moved FROM before o
              WHERE EXISTS (SELECT 1 FROM businesses b WHERE b.id = o.business_id)"""  # not when the business goes

_UPGRADE = f"""
DROP INDEX IF EXISTS ix_customer_search_blocks_start;
ALTER TABLE customer_search_blocks DROP COLUMN start_name, DROP COLUMN end_name, DROP COLUMN end_id;
CREATE INDEX ix_customer_search_blocks_start ON customer_search_blocks (business_id, start_id);
ALTER TABLE customer_search_changes ADD COLUMN moved boolean NOT NULL DEFAULT false;
-- a change waiting for a customer who starts a block may have renamed or removed them
UPDATE customer_search_changes ch SET moved = true FROM customer_search_blocks b
    WHERE b.business_id = ch.business_id AND b.start_id = ch.customer_id;

CREATE OR REPLACE FUNCTION customer_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_record(_CHANGED)}
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION customer_search_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_record(_REMOVED)}
    RETURN NULL;
END $$;
DROP FUNCTION customer_search_block(bigint, varchar, bigint);
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # the blocks are derived from the customers: made again as 0011 makes them, and built
    # by the worker's next fold
    path = Path(__file__).with_name("20261127_0011_search_blocks.py")
    spec = importlib.util.spec_from_file_location("search_blocks_0011", path)
    blocks_0011 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(blocks_0011)
    blocks_0011.downgrade()
    blocks_0011.upgrade()
