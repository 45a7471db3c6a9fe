"""Webhook events: who signed an event is part of its stored identity.

An event was stored once under ``(provider, event_id)``. A request for a business's own
number, signed with that business's own token, could carry another business's message
id; stored first, it took the key, was refused when applied, and the provider's genuine
event for that id was then dropped as a duplicate. The key becomes ``(provider,
event_id, signer)``: ``signer`` names whose secret verified the event (``platform``, or
``business:<id>`` for a business's own Twilio account), so a wrongly signed event can
never take the place of the genuine one.

Existing rows: the signer Twilio events carried in their payload (``_signer``) moves to
the column; every other row was verified with the platform's secret.

Revision ID: 0012_webhook_signer
Revises: 0011_search_blocks
Create Date: 2026-12-07 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012_webhook_signer"
down_revision = "0011_search_blocks"
branch_labels = None
depends_on = None

_RECEIVED = sa.text("status = 'received'")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signer", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False,
                                      server_default="platform"))
    if postgres:
        op.execute("UPDATE webhook_events SET signer = left(payload->>'_signer', 40), payload = payload - '_signer' "
                   "WHERE payload ? '_signer'")
    else:
        op.execute("UPDATE webhook_events SET signer = substr(json_extract(payload, '$._signer'), 1, 40), "
                   "payload = json_remove(payload, '$._signer') WHERE json_extract(payload, '$._signer') IS NOT NULL")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_events_provider_event", type_="unique")
        batch_op.create_unique_constraint("uq_webhook_events_provider_event_signer", ["provider", "event_id", "signer"])
    if not postgres:  # SQLite rebuilt the table: make sure the queue's partial index came through as one
        op.execute("DROP INDEX IF EXISTS ix_webhook_events_received")
        op.create_index("ix_webhook_events_received", "webhook_events", ["id"], unique=False,
                        sqlite_where=_RECEIVED)


def downgrade() -> None:
    # Events that differ only by signer cannot share the old key: the first stored is kept.
    op.execute("DELETE FROM webhook_events WHERE id NOT IN (SELECT min(id) FROM webhook_events "
               "GROUP BY provider, event_id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE webhook_events SET payload = payload || jsonb_build_object('_signer', signer) "
                   "WHERE provider = 'twilio' AND signer <> 'platform'")
    else:
        op.execute("UPDATE webhook_events SET payload = json_set(payload, '$._signer', signer) "
                   "WHERE provider = 'twilio' AND signer <> 'platform'")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_events_provider_event_signer", type_="unique")
        batch_op.create_unique_constraint("uq_webhook_events_provider_event", ["provider", "event_id"])
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_column("signer")
