"""Webhook events as the worker's queue: received events found by a partial index; 'processed' becomes 'applied'.

Revision ID: 0006_webhook_queue
Revises: 0005
Create Date: 2026-11-27 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_webhook_queue"
down_revision = "0005"
branch_labels = None
depends_on = None

_RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    op.execute("UPDATE webhook_events SET status = 'applied' WHERE status = 'processed'")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        # The applier's claim: the oldest received events, without scanning the applied ones.
        batch_op.create_index("ix_webhook_events_received", ["id"], unique=False,
                              postgresql_where=_RECEIVED, sqlite_where=_RECEIVED)
        # The operators' list: newest first within a status.
        batch_op.create_index("ix_webhook_events_status_received_at", ["status", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_status_received_at")
        batch_op.drop_index("ix_webhook_events_received")
    op.execute("UPDATE webhook_events SET status = 'processed' WHERE status = 'applied'")
