"""Per-network limits on sign-in and on new accounts: one row per counted attempt (and per block's first refusal).

A platform table like ``login_attempts``: no business owns a row, so on PostgreSQL its
row-level security policy is the cross-tenant test alone (Kaimen's own sign-in and sign-up
work), and a business's session sees none of it. ``migrate`` grants the app's role on it
with every other table.

Revision ID: 0014_network_attempts
Revises: 0013_search_blocks_by_id
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014_network_attempts"
down_revision = "0013_search_blocks_by_id"
branch_labels = None
depends_on = None

_CROSS_TENANT = "current_setting('app.cross_tenant', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "network_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("network_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.CheckConstraint("action IN ('sign_in', 'new_account')",
                           name=op.f("ck_network_attempts_network_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_attempts")),
    )
    with op.batch_alter_table("network_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_network_attempts_network_created", ["action", "network_hash", "created_at"],
                              unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE network_attempts ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE network_attempts FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON network_attempts USING ({_CROSS_TENANT}) "
                   f"WITH CHECK ({_CROSS_TENANT})")


def downgrade() -> None:
    with op.batch_alter_table("network_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_network_attempts_network_created")
    op.drop_table("network_attempts")
