"""Text messages to and from a business's customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = ["MESSAGE_STATUSES", "Message"]

MESSAGE_STATUSES = (
    "held",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "refused",
    "received",
)


class Message(SQLModel, table=True):
    """One text, inbound or outbound, with the send path's decision and delivery state."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(one_of("direction", ("inbound", "outbound")), name="message_direction_known"),
        CheckConstraint(one_of("status", MESSAGE_STATUSES), name="message_status_known"),
        Index("ix_messages_business_customer_created", "business_id", "customer_id", "created_at"),
        Index("ix_messages_customer_id", "customer_id"),
        Index("ix_messages_business_created", "business_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    customer_id: int | None = Field(
        default=None, foreign_key="customers.id", ondelete="CASCADE", sa_type=BigId
    )
    direction: str = Field(max_length=8)
    kind: str = Field(default="manual", max_length=16, description="manual, transactional, marketing, automated")
    body: str = Field(sa_type=Text)
    media: list[dict[str, Any]] = Field(default_factory=list, sa_type=JsonDoc)
    status: str = Field(max_length=12)
    decision: str | None = Field(default=None, max_length=300, description="why it was sent, held or refused")
    provider_sid: str | None = Field(default=None, max_length=64, unique=True)
    error_code: str | None = Field(default=None, max_length=16)
    error_message: str | None = Field(default=None, max_length=300)
    sent_by_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId)
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
