"""Privacy requests (requester, acknowledgement, extension notice, response, certificate),
each business's retention periods, and business closure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 11:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("requester_contact", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True)
        )
        batch_op.add_column(sa.Column("subject_ref", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("acknowledge_by", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("extension_notice", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("response", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("changed_fields", _JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("certificate", _JSON, nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("keep_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_privacy_requests_privacy_regime_known"), "regime IN ('gdpr', 'ccpa', 'other')"
        )
        batch_op.create_index("ix_privacy_requests_status", ["status"], unique=False)
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        for column, default in (("retention_messages_months", "24"), ("retention_webhook_days", "30"),
                                ("retention_audit_months", "12"), ("retention_requests_months", "24")):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default=default))
        batch_op.add_column(sa.Column("closure_requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closure_checkpoint", _JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        for column in ("closure_checkpoint", "closure_requested_at", "retention_requests_months",
                       "retention_audit_months", "retention_webhook_days", "retention_messages_months"):
            batch_op.drop_column(column)
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_status")
        batch_op.drop_constraint(op.f("ck_privacy_requests_privacy_regime_known"), type_="check")
        for column in ("keep_until", "certificate", "changed_fields", "response", "extension_notice",
                       "acknowledged_at", "acknowledge_by", "subject_ref", "requester_contact", "requester_name"):
            batch_op.drop_column(column)
