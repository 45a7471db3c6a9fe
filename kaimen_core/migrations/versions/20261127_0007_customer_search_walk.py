"""Customers: the sort indexes also carry the search column, so a search walks them alone.

A substring search first reads the first entries of its sort order and keeps the
matches (see kaimen_core.customers.search). With ``search_text`` included in
``(business, key, id)`` that walk is an index-only scan: the table is not visited for
the rows that do not match. One such index per sort (name, newest, recently updated);
the first two replace migration 0002's indexes of the same name without the column.

A btree entry holds at most 2,704 bytes, and a search column can be longer (200-character
names and 20 tags of 40 characters in a four-byte script). So these indexes hold the rows
whose search column is at most 1,800 bytes (with the name, under the limit), and three
small indexes without the column hold the rest; a search reads both in order.

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
#: Kept in step with kaimen_core.customers.search.statements (INDEXED_TEXT_BYTES).
SHORT, LONG = "octet_length(search_text) <= 1800", "octet_length(search_text) > 1800"


def _long_index(name: str) -> str:
    return name.replace("ix_customers_business_", "ix_customers_long_")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _SORT_INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON customers {columns} INCLUDE (search_text) WHERE {SHORT}")
        op.execute(f"CREATE INDEX {_long_index(name)} ON customers {columns} WHERE {LONG}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in _SORT_INDEXES.items():
        op.execute(f"DROP INDEX IF EXISTS {_long_index(name)}")
        op.execute(f"DROP INDEX IF EXISTS {name}")
        if name in _BEFORE:
            op.execute(f"CREATE INDEX {name} ON customers {columns}")
