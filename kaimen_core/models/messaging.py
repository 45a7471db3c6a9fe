"""Text messages to and from a business's customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = [
    "MESSAGE_STATUSES",
    "Conversation",
    "Message",
    "MessagingSettings",
    "ReminderRecord",
    "ScreeningTerm",
]

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


class MessagingSettings(SQLModel, table=True):
    """A business's messaging limits (set by operators), reminders and templates (set by the owner)."""

    __tablename__ = "messaging_settings"
    __table_args__ = (
        CheckConstraint("rate_per_minute > 0", name="messaging_rate_positive"),
        CheckConstraint("daily_cap > 0", name="messaging_cap_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", unique=True, sa_type=BigId)
    rate_per_minute: int = Field(default=30, description="outbound texts per minute, set by operators")
    daily_cap: int = Field(default=500, description="outbound texts per rolling 24 hours, set by operators")
    reminder_24h: bool = Field(default=True)
    reminder_2h: bool = Field(default=False)
    templates: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc, description="name -> text")
    twilio_account_sid: str | None = Field(
        default=None, max_length=34, description="the business's own Twilio account (AC...), else the platform's")
    twilio_auth_token_sealed: str | None = Field(
        default=None, sa_type=Text, description="that account's auth token, encrypted (never the token itself)")
    updated_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    """Per-customer inbox state: needs a person, automated texts paused, opt-out confirmed."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_business_last", "business_id", "last_message_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", ondelete="CASCADE", unique=True, sa_type=BigId)
    needs_person: bool = Field(default=False)
    needs_person_reason: str | None = Field(default=None, max_length=120)
    automated_paused_at: datetime | None = None
    opt_out_confirmed_at: datetime | None = None
    last_message_at: datetime = Field(default_factory=utcnow)


class ReminderRecord(SQLModel, table=True):
    """A reminder sent (or refused) for one booking at one start time; never sent twice."""

    __tablename__ = "reminder_records"
    __table_args__ = (
        UniqueConstraint("booking_id", "kind", "start_at", name="uq_reminder_records_booking_kind_start"),
        Index("ix_reminder_records_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    booking_id: int = Field(foreign_key="bookings.id", ondelete="CASCADE", sa_type=BigId)
    kind: str = Field(max_length=8, description="24h or 2h")
    start_at: datetime
    message_id: int | None = Field(default=None, sa_type=BigId)
    created_at: datetime = Field(default_factory=utcnow)


class ScreeningTerm(SQLModel, table=True):
    """A prohibited term (platform-wide) that the send path refuses, with the reason shown."""

    __tablename__ = "screening_terms"

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    term: str = Field(max_length=100, unique=True)
    reason: str = Field(max_length=120)
    created_by_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId)
    created_at: datetime = Field(default_factory=utcnow)
