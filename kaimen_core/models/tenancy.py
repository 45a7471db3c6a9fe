"""Businesses (the tenants) and the operators' enforcement actions against them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = [
    "BUSINESS_STATUSES",
    "ENFORCEMENT_ACTIONS",
    "Business",
    "BusinessBase",
    "BusinessPublic",
    "BusinessUpdate",
    "EnforcementAction",
]

BUSINESS_STATUSES = ("active", "suspended", "terminated")
ENFORCEMENT_ACTIONS = (
    "warn",
    "disable_messaging",
    "enable_messaging",
    "suspend",
    "terminate",
    "reinstate",
)


class BusinessBase(SQLModel):
    """Fields an owner sets about their business."""

    name: str = Field(max_length=100)
    time_zone: str = Field(max_length=64, description="IANA zone, e.g. Europe/London")
    region: str = Field(max_length=2, description="ISO country code used to read phone numbers")
    phone: str | None = Field(default=None, max_length=20, description="Contact number, E.164")


class BusinessUpdate(SQLModel):
    """What an owner may change on the settings page."""

    name: str | None = None
    time_zone: str | None = None
    region: str | None = None
    phone: str | None = None


class Business(BusinessBase, table=True):
    """A tenant: one small business and everything it holds."""

    __tablename__ = "businesses"
    __table_args__ = (
        CheckConstraint(one_of("status", BUSINESS_STATUSES), name="business_status_known"),
        Index("ix_businesses_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    slug: str = Field(max_length=60, unique=True)
    status: str = Field(default="active", max_length=16)
    messaging_enabled: bool = Field(default=True)
    messaging_number: str | None = Field(default=None, max_length=20, unique=True)
    retention_messages_months: int = Field(default=24, description="texts older than this are purged")
    retention_webhook_days: int = Field(default=30, description="raw provider events older than this are purged")
    retention_audit_months: int = Field(default=12, description="audit events older than this are purged")
    retention_requests_months: int = Field(default=24, description="closed privacy request records")
    closure_requested_at: datetime | None = Field(default=None, description="the owner asked Kaimen to close it")
    closure_checkpoint: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BusinessPublic(BusinessBase):
    """A business as pages show it."""

    id: int
    slug: str
    status: str
    messaging_enabled: bool
    messaging_number: str | None
    closure_requested_at: datetime | None = None
    created_at: datetime


class EnforcementAction(SQLModel, table=True):
    """One operator action under the acceptable-use policy, with its reason."""

    __tablename__ = "enforcement_actions"
    __table_args__ = (
        CheckConstraint(one_of("action", ENFORCEMENT_ACTIONS), name="enforcement_action_known"),
        Index("ix_enforcement_actions_business_created", "business_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    operator_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    action: str = Field(max_length=24)
    reason: str = Field(max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
