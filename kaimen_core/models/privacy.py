"""Privacy requests from the people whose data a business holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = ["PRIVACY_KINDS", "PRIVACY_REGIMES", "PRIVACY_STATUSES", "PrivacyRequest"]

PRIVACY_KINDS = ("access", "correction", "deletion", "restriction")
PRIVACY_STATUSES = ("received", "verified", "in_progress", "completed", "refused")
PRIVACY_REGIMES = ("gdpr", "ccpa", "other")


class PrivacyRequest(SQLModel, table=True):
    """A request under GDPR, CCPA or another regime, with its due date and progress."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(one_of("kind", PRIVACY_KINDS), name="privacy_kind_known"),
        CheckConstraint(one_of("status", PRIVACY_STATUSES), name="privacy_status_known"),
        CheckConstraint(one_of("regime", PRIVACY_REGIMES), name="privacy_regime_known"),
        Index("ix_privacy_requests_business_due", "business_id", "due_at"),
        Index("ix_privacy_requests_customer_id", "customer_id"),
        Index("ix_privacy_requests_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    customer_id: int | None = Field(
        default=None, foreign_key="customers.id", ondelete="SET NULL", sa_type=BigId
    )
    kind: str = Field(max_length=16)
    regime: str = Field(max_length=8)
    status: str = Field(default="received", max_length=16)
    channel: str = Field(max_length=32, description="how the person asked")
    received_at: datetime
    due_at: datetime
    extended_until: datetime | None = None
    verified_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    verified_at: datetime | None = None
    verification_method: str | None = Field(default=None, max_length=200)
    completed_at: datetime | None = None
    refusal_reason: str | None = Field(default=None, sa_type=Text)
    checkpoint: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    requester_name: str | None = Field(default=None, max_length=200, description="erased with the customer")
    requester_contact: str | None = Field(default=None, max_length=254, description="erased with the customer")
    subject_ref: str | None = Field(default=None, max_length=40, description="'customer 123': survives erasure")
    acknowledge_by: datetime | None = Field(default=None, description="CCPA: 10 business days from receipt")
    acknowledged_at: datetime | None = None
    extension_notice: str | None = Field(default=None, sa_type=Text, description="what the person was told")
    response: str | None = Field(default=None, sa_type=Text, description="how the request was answered")
    changed_fields: list[str] = Field(default_factory=list, sa_type=JsonDoc, description="corrections: names only")
    certificate: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    keep_until: datetime | None = Field(default=None, description="the record itself is kept 24 months")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
