"""Messaging: per-business settings and templates, conversation flags, reminder records, screening terms.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = sqlmodel.sql.sqltypes.UTCDateTime
_STR = sqlmodel.sql.sqltypes.AutoString

_CURRENT_BUSINESS = "NULLIF(current_setting('app.business_id', true), '')::bigint"
_CROSS_TENANT = "current_setting('app.cross_tenant', true) = 'on'"
_TENANT_TABLES = ("messaging_settings", "conversations", "reminder_records")


def upgrade() -> None:
    op.create_table(
        "messaging_settings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("business_id", _ID, nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("reminder_24h", sa.Boolean(), nullable=False),
        sa.Column("reminder_2h", sa.Boolean(), nullable=False),
        sa.Column("templates", _JSON, nullable=False),
        sa.Column("updated_at", _TIME(), nullable=False),
        sa.CheckConstraint("rate_per_minute > 0", name=op.f("ck_messaging_settings_messaging_rate_positive")),
        sa.CheckConstraint("daily_cap > 0", name=op.f("ck_messaging_settings_messaging_cap_positive")),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                name=op.f("fk_messaging_settings_business_id_businesses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_settings")),
        sa.UniqueConstraint("business_id", name=op.f("uq_messaging_settings_business_id")),
    )
    op.create_table(
        "conversations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("business_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("needs_person", sa.Boolean(), nullable=False),
        sa.Column("needs_person_reason", _STR(length=120), nullable=True),
        sa.Column("automated_paused_at", _TIME(), nullable=True),
        sa.Column("opt_out_confirmed_at", _TIME(), nullable=True),
        sa.Column("last_message_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                name=op.f("fk_conversations_business_id_businesses")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_conversations_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_conversations_customer_id")),
    )
    op.create_index("ix_conversations_business_last", "conversations", ["business_id", "last_message_at"])
    op.create_table(
        "reminder_records",
        sa.Column("id", _ID, nullable=False),
        sa.Column("business_id", _ID, nullable=False),
        sa.Column("booking_id", _ID, nullable=False),
        sa.Column("kind", _STR(length=8), nullable=False),
        sa.Column("start_at", _TIME(), nullable=False),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], ondelete="CASCADE",
                                name=op.f("fk_reminder_records_business_id_businesses")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE",
                                name=op.f("fk_reminder_records_booking_id_bookings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_records")),
        sa.UniqueConstraint("booking_id", "kind", "start_at", name="uq_reminder_records_booking_kind_start"),
    )
    op.create_index("ix_reminder_records_business_id", "reminder_records", ["business_id"])
    op.create_table(
        "screening_terms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("term", _STR(length=100), nullable=False),
        sa.Column("reason", _STR(length=120), nullable=False),
        sa.Column("created_by_user_id", _ID, nullable=True),
        sa.Column("created_at", _TIME(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_screening_terms_created_by_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_screening_terms_term")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in _TENANT_TABLES:
            condition = f"business_id = {_CURRENT_BUSINESS} OR {_CROSS_TENANT}"
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TENANT_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.drop_table("screening_terms")
    op.drop_index("ix_reminder_records_business_id", table_name="reminder_records")
    op.drop_table("reminder_records")
    op.drop_index("ix_conversations_business_last", table_name="conversations")
    op.drop_table("conversations")
    op.drop_table("messaging_settings")
