"""The audit log: who did what, when and from where, without personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, utcnow

__all__ = ["AuditEvent", "AuditEventPublic"]


class AuditEvent(SQLModel, table=True):
    """One recorded action. ``detail`` holds ids and counts, never names, numbers or text."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_business_created", "business_id", "created_at"),
        Index("ix_audit_events_created_at", "created_at"),
        Index("ix_audit_events_action", "action"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int | None = Field(
        default=None, foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId
    )
    actor_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    actor_label: str = Field(max_length=60, description="role and username, or 'system'")
    action: str = Field(max_length=60)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEventPublic(SQLModel):
    """An audit event as the audit log page shows it."""

    id: int
    business_id: int | None
    actor_label: str
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]
    ip_address: str | None
    user_agent: str | None
    created_at: datetime
