"""Customers: the sort indexes also carry the search column, so a search walks them alone.

A substring search first reads the first entries of its sort order and keeps the
matches (see kaimen_core.customers._directory). With ``search_text`` included in
``(business, key, id)`` that walk is an index-only scan: the table is not visited for
the rows that do not match. One such index per sort (name, newest, recently updated);
the first two replace migration 0002's indexes of the same name without the column.

On SQLite nothing changes (it has no INCLUDE); its search keeps reading the rows.

Revision ID: 0007_search_walk
Revises: 0006_webhook_queue
Create Date: 2026-11-27 13:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0007_search_walk"
down_revision = "0006_webhook_queue"
branch_labels = None
depends_on = None

_SORT_INDEXES = {
    "ix_customers_business_name_id": "(business_id, name, id)",
    "ix_customers_business_created_id": "(business_id, created_at DESC, id DESC)",
    "ix_customers_business_updated_id": "(business_id, updated_at DESC, id DESC)",
}
_BEFORE = ("ix_customers_business_name_id", "ix_customers_business_created_id")  # as 0002 made them


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _SORT_INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON customers {columns} INCLUDE (search_text)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _SORT_INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        if name in _BEFORE:
            op.execute(f"CREATE INDEX {name} ON customers {columns}")
