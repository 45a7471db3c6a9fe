"""Customers: current marketing-consent source, a normalised search column and its indexes.

On PostgreSQL the search column gets a pg_trgm GIN index (substring search with
``LIKE '%term%'``), and paging by name or date uses btree indexes that end in the id,
so the first page of any sort is an index range scan however many customers there are.
On SQLite the same btree indexes serve sorting; a substring search scans the business's
rows (SQLite has no trigram index outside FTS5, which cannot match inside words).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

SEARCH_INDEX_COLUMNS = "(business_id, search_text gin_trgm_ops)"

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketing_consent_method", sqlmodel.sql.sqltypes.AutoString(length=32),
                                      nullable=True))
        batch_op.add_column(sa.Column("marketing_consent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index("ix_customers_business_updated", ["business_id", "updated_at"], unique=False)
    # Existing rows: the same normalisation kaimen_core.customers applies on every write
    # (tags are added by the next save; names, emails and phone digits are enough to find them).
    op.execute(
        "UPDATE customers SET search_text = lower(name) || ' ' || coalesce(lower(email), '') || ' ' || "
        "coalesce(replace(phone_e164, '+', ''), '')"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        # One GIN index over (business, trigrams): a search touches only its business's postings.
        op.execute(f"CREATE INDEX ix_customers_search_trgm ON customers USING gin {SEARCH_INDEX_COLUMNS}")
        # Under row-level security PostgreSQL uses an index only for conditions whose
        # functions are LEAKPROOF (they run before the policy check). LIKE's textlike is
        # not marked so, though its only error depends on the pattern, never on a row:
        # without this the app role's substring search reads every row of the business.
        # Marking it needs a superuser; a non-superuser owner gets correct but slower search.
        superuser = op.get_bind().execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        if superuser.scalar():
            op.execute("ALTER FUNCTION textlike(text, text) LEAKPROOF")
        # Sorted first pages: (business, key, id) lets ORDER BY key, id LIMIT n stop early.
        op.execute("CREATE INDEX ix_customers_business_name_id ON customers (business_id, name, id)")
        op.execute("CREATE INDEX ix_customers_business_created_id ON customers (business_id, created_at DESC, id DESC)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_customers_business_created_id")
        op.execute("DROP INDEX IF EXISTS ix_customers_business_name_id")
        op.execute("DROP INDEX IF EXISTS ix_customers_search_trgm")
        superuser = op.get_bind().execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
        if superuser.scalar():
            op.execute("ALTER FUNCTION textlike(text, text) NOT LEAKPROOF")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_business_updated")
        batch_op.drop_column("search_text")
        batch_op.drop_column("marketing_consent_at")
        batch_op.drop_column("marketing_consent_method")
