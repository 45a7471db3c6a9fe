"""Customers: a block index of the name order, so a search skips the stretches that cannot match.

A term in many rows that sit together late in the name order (a first name such as ``zoe``)
had no quick route: its first page is either past most of the sort index or among tens of
thousands of trigram matches (25 times the time at a thousand customers). These tables
split a large business's name order into blocks of about a thousand customers and record,
for each two- and three-character piece of the search column, the blocks whose rows hold it:

* ``customer_search_blocks``: each block's first ``(name, id)`` and the next block's (its
  end; NULL for the last). Block 0 starts at ``('', 0)``, before any customer. A start
  whose customer is renamed or removed moves on to the next customer at the next fold (an
  erasure folds at once), so no name outlives its customer here.
* ``customer_search_grams``: per piece (stored as the first 32 bits of its MD5: no text),
  a bit string with one bit per block. A block whose bits for every piece of a term are
  set may hold it; the others cannot.
* ``customer_search_changes``: customers added, changed or removed since their blocks were
  last summarised (written by the triggers below, in the same transaction as the change;
  ids only, no personal data), and the block a changed or removed row was in. A search
  reads the changed rows themselves; the worker folds them into the bits and clears the
  bits a removed or renamed row no longer justifies (see kaimen_core.customers.search).
  A queue: vacuumed after every 5,000 removed rows whatever the table's size, since each
  search reads the business's part of its index, dead entries included.

Only a bit that is wrongly clear could hide a match, and none is: a row's pieces are set
before its change row is removed, in one transaction. The tables are derived from
``customers`` and are rebuilt from it; row-level security guards them like the others.
On SQLite nothing changes.

Revision ID: 0011_search_blocks
Revises: 0010_search_statistics
Create Date: 2026-11-27 20:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0011_search_blocks"
down_revision = "0010_search_statistics"
branch_labels = None
depends_on = None

TABLES = ("customer_search_blocks", "customer_search_grams", "customer_search_changes")
_RULE = ("business_id = (SELECT NULLIF(current_setting('app.business_id', true), '')::bigint) OR "
         "current_setting('app.cross_tenant', true) = 'on'")

_CREATE = """
CREATE TABLE customer_search_blocks (
    business_id bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    block integer NOT NULL,
    start_name varchar(200) NOT NULL,
    start_id bigint NOT NULL,
    end_name varchar(200),
    end_id bigint,
    built_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_customer_search_blocks PRIMARY KEY (business_id, block)
);
CREATE INDEX ix_customer_search_blocks_start ON customer_search_blocks (business_id, start_name, start_id, block);
CREATE TABLE customer_search_grams (
    business_id bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    piece integer NOT NULL,
    blocks bit varying NOT NULL,
    CONSTRAINT pk_customer_search_grams PRIMARY KEY (business_id, piece)
) WITH (autovacuum_vacuum_scale_factor = 0.02);
CREATE TABLE customer_search_changes (
    id bigserial CONSTRAINT pk_customer_search_changes PRIMARY KEY,
    business_id bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id bigint,
    stale_block integer
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE INDEX ix_customer_search_changes_business ON customer_search_changes (business_id, customer_id);

-- the block of the row (business, name, id) (NULL when the business has no blocks)
CREATE FUNCTION customer_search_block(bigint, varchar, bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT b.block FROM customer_search_blocks b
    WHERE b.business_id = $1 AND (b.start_name, b.start_id) <= ($2, $3)
    ORDER BY b.start_name DESC, b.start_id DESC, b.block DESC LIMIT 1
$$;

-- a piece as stored: the first 32 bits of its MD5 (two pieces that share
-- them only set more bits; no readable text is kept)
CREATE FUNCTION customer_search_piece(text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ('x' || left(md5($1), 8))::bit(32)::int
$$;

CREATE FUNCTION customer_search_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_search_changes (business_id, customer_id) SELECT business_id, id FROM added;
    RETURN NULL;
END $$;

CREATE FUNCTION customer_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_search_changes (business_id, customer_id, stale_block)
    SELECT o.business_id, o.id, customer_search_block(o.business_id, o.name, o.id)
    FROM before o JOIN after n ON n.id = o.id
    WHERE o.name IS DISTINCT FROM n.name OR o.search_text IS DISTINCT FROM n.search_text;
    RETURN NULL;
END $$;

CREATE FUNCTION customer_search_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_search_changes (business_id, customer_id, stale_block)
    SELECT o.business_id, o.id, customer_search_block(o.business_id, o.name, o.id) FROM before o
    WHERE EXISTS (SELECT 1 FROM businesses b WHERE b.id = o.business_id);  -- not when the business goes
    RETURN NULL;
END $$;

CREATE TRIGGER customer_search_added AFTER INSERT ON customers
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION customer_search_added();
CREATE TRIGGER customer_search_changed AFTER UPDATE ON customers
    REFERENCING OLD TABLE AS before NEW TABLE AS after FOR EACH STATEMENT EXECUTE FUNCTION customer_search_changed();
CREATE TRIGGER customer_search_removed AFTER DELETE ON customers
    REFERENCING OLD TABLE AS before FOR EACH STATEMENT EXECUTE FUNCTION customer_search_removed();

-- every business with customers is looked at once by the worker (it builds blocks for the large ones)
INSERT INTO customer_search_changes (business_id) SELECT DISTINCT business_id FROM customers;
"""

_DROP = """
DROP TRIGGER IF EXISTS customer_search_added ON customers;
DROP TRIGGER IF EXISTS customer_search_changed ON customers;
DROP TRIGGER IF EXISTS customer_search_removed ON customers;
DROP FUNCTION IF EXISTS customer_search_added();
DROP FUNCTION IF EXISTS customer_search_changed();
DROP FUNCTION IF EXISTS customer_search_removed();
DROP FUNCTION IF EXISTS customer_search_block(bigint, varchar, bigint);
DROP FUNCTION IF EXISTS customer_search_piece(text);
DROP TABLE IF EXISTS customer_search_changes;
DROP TABLE IF EXISTS customer_search_grams;
DROP TABLE IF EXISTS customer_search_blocks;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_CREATE)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({_RULE}) WITH CHECK ({_RULE})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
