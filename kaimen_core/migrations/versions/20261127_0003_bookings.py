"""Bookings: business and staff hours, time off, booking events, and buffers in the
no-double-booking constraint.

``bookings.occupied_until`` is the end of the appointment plus the service's buffer
(time to clean up or travel). On PostgreSQL the exclusion constraint
``bookings_no_overlap`` now covers ``[start_at, COALESCE(occupied_until, end_at))``, so
the database refuses a booking that starts inside another's buffer, and a booking whose
own buffer runs into the next one. A row written without ``occupied_until`` (older
code) is covered up to its ``end_at``, as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sqlmodel.sql.sqltypes.UTCDateTime
NEW_TABLES = ("business_hours", "staff_hours", "time_off", "booking_events")
_CURRENT_BUSINESS = "NULLIF(current_setting('app.business_id', true), '')::bigint"
_CROSS_TENANT = "current_setting('app.cross_tenant', true) = 'on'"


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occupied_until", UTC(), nullable=True))
    op.execute(
        "UPDATE bookings SET occupied_until = end_at WHERE occupied_until IS NULL"
    )
    op.create_table(
        "business_hours",
        sa.Column("id", BigId, nullable=False),
        sa.Column("business_id", BigId, nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_business_hours_business_hours_weekday")),
        sa.CheckConstraint(
            "opens_minute >= 0 AND closes_minute <= 1440 AND closes_minute > opens_minute",
            name=op.f("ck_business_hours_business_hours_order"),
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], name=op.f("fk_business_hours_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_hours")),
    )
    with op.batch_alter_table("business_hours", schema=None) as batch_op:
        batch_op.create_index("ix_business_hours_business_id", ["business_id"], unique=False)

    op.create_table(
        "staff_hours",
        sa.Column("id", BigId, nullable=False),
        sa.Column("business_id", BigId, nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts_minute", sa.Integer(), nullable=False),
        sa.Column("ends_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_staff_hours_staff_hours_weekday")),
        sa.CheckConstraint(
            "starts_minute >= 0 AND ends_minute <= 1440 AND ends_minute > starts_minute",
            name=op.f("ck_staff_hours_staff_hours_order"),
        ),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], name=op.f("fk_staff_hours_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_hours_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_hours")),
    )
    with op.batch_alter_table("staff_hours", schema=None) as batch_op:
        batch_op.create_index("ix_staff_hours_business_staff", ["business_id", "staff_id"], unique=False)

    op.create_table(
        "time_off",
        sa.Column("id", BigId, nullable=False),
        sa.Column("business_id", BigId, nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("starts_at", UTC(), nullable=False),
        sa.Column("ends_at", UTC(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_time_off_time_off_order")),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], name=op.f("fk_time_off_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_time_off_staff_id_staff"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    with op.batch_alter_table("time_off", schema=None) as batch_op:
        batch_op.create_index("ix_time_off_business_staff_starts", ["business_id", "staff_id", "starts_at"],
                              unique=False)

    op.create_table(
        "booking_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("business_id", BigId, nullable=False),
        sa.Column("booking_id", BigId, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("start_at", UTC(), nullable=False),
        sa.Column("staff_id", BigId, nullable=True),
        sa.Column("previous_start_at", UTC(), nullable=True),
        sa.Column("previous_staff_id", BigId, nullable=True),
        sa.Column("actor_user_id", BigId, nullable=True),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("processed_at", UTC(), nullable=True),
        sa.CheckConstraint("kind IN ('created', 'moved', 'cancelled', 'completed', 'no_show')",
                           name=op.f("ck_booking_events_booking_event_kind_known")),
        sa.ForeignKeyConstraint(["business_id"], ["businesses.id"], name=op.f("fk_booking_events_business_id_businesses"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_booking_events_booking_id_bookings"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"], name=op.f("fk_booking_events_actor_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_events")),
    )
    with op.batch_alter_table("booking_events", schema=None) as batch_op:
        batch_op.create_index("ix_booking_events_booking_id", ["booking_id"], unique=False)
        batch_op.create_index("ix_booking_events_business_created", ["business_id", "created_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_no_overlap")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
            "(staff_id WITH =, tstzrange(start_at, COALESCE(occupied_until, end_at)) WITH &&) "
            "WHERE (status <> 'cancelled')"
        )
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT ck_bookings_occupied_after_end "
            "CHECK (occupied_until IS NULL OR occupied_until >= end_at)"
        )
        condition = f"business_id = {_CURRENT_BUSINESS} OR {_CROSS_TENANT}"
        for table in NEW_TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({condition}) WITH CHECK ({condition})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in NEW_TABLES:
            op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS ck_bookings_occupied_after_end")
        op.execute("ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_no_overlap")
        op.execute(
            "ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist "
            "(staff_id WITH =, tstzrange(start_at, end_at) WITH &&) WHERE (status <> 'cancelled')"
        )
    for table in reversed(NEW_TABLES):
        op.drop_table(table)
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("occupied_until")
