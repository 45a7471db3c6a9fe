"""Messaging settings: a business's own Twilio account (SID and encrypted auth token).

Both columns are on ``messaging_settings``, a tenant table already under row-level
security (migration 0004), so they need no policy of their own. The token column holds
only ciphertext (see kaimen_core.messaging._accounts); no index: the webhook sidecar
reads the few businesses with an account of their own all at once.

Revision ID: 0008_twilio_accounts
Revises: 0007_search_walk
Create Date: 2026-11-27 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008_twilio_accounts"
down_revision = "0007_search_walk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messaging_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("twilio_account_sid", sqlmodel.sql.sqltypes.AutoString(length=34),
                                      nullable=True))
        batch_op.add_column(sa.Column("twilio_auth_token_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messaging_settings", schema=None) as batch_op:
        batch_op.drop_column("twilio_auth_token_sealed")
        batch_op.drop_column("twilio_account_sid")
