"""Customers of a business, the history of their consent, and the opt-out suppression list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = [
    "CONSENT_KINDS",
    "CONSENT_METHODS",
    "ConsentEvent",
    "Customer",
    "CustomerPublic",
    "SuppressionEntry",
    "customer_search_text",
]

CONSENT_KINDS = ("transactional", "marketing", "opt_out", "opt_in")
#: How a consent was captured (shown to the owner; recorded on every consent event).
CONSENT_METHODS = ("in_person", "web_form", "keyword", "import", "phone_call", "paper_form")


class Customer(SQLModel, table=True):
    """A person the business serves and texts."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("business_id", "phone_e164", name="uq_customers_business_phone"),
        Index("ix_customers_business_name", "business_id", "name"),
        Index("ix_customers_business_email", "business_id", "email"),
        Index("ix_customers_business_created", "business_id", "created_at"),
        Index("ix_customers_business_updated", "business_id", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    name: str = Field(max_length=200)
    phone_e164: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    notes: str | None = Field(default=None, sa_type=Text)
    tags: list[str] = Field(default_factory=list, sa_type=JsonDoc)
    preferred_language: str | None = Field(default=None, max_length=16)
    time_zone: str | None = Field(default=None, max_length=64)
    transactional_consent: bool = Field(default=True)
    marketing_consent: bool = Field(default=False)
    opted_out_at: datetime | None = None
    restricted_at: datetime | None = None
    marketing_consent_method: str | None = Field(default=None, max_length=32)
    marketing_consent_at: datetime | None = None
    search_text: str = Field(default="", sa_type=Text, description="lower-case name, email, phone digits, tags")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def customer_search_text(name: str | None, email: str | None, phone_e164: str | None, tags: list[str] | None) -> str:
    """The normalised text a search looks in: lower-case name, email, phone digits, #tags."""
    parts = [(name or "").lower(), (email or "").lower(), (phone_e164 or "").lstrip("+")]
    parts.extend("#" + str(tag).lower() for tag in tags or [])
    return " ".join(parts)


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _refresh_search_text(_mapper, _connection, customer: Customer) -> None:
    # Every ORM write keeps the search column in step, whoever writes (forms, demo data,
    # an erasure that blanks the name): no stale personal data is left in it.
    customer.search_text = customer_search_text(customer.name, customer.email, customer.phone_e164, customer.tags)


class CustomerPublic(SQLModel):
    """A customer as pages show it (no search column)."""

    id: int
    name: str
    phone_e164: str | None
    email: str | None
    notes: str | None
    tags: list[str]
    preferred_language: str | None
    time_zone: str | None
    transactional_consent: bool
    marketing_consent: bool
    marketing_consent_method: str | None
    marketing_consent_at: datetime | None
    opted_out_at: datetime | None
    restricted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConsentEvent(SQLModel, table=True):
    """One change of a customer's messaging consent; history is appended, never rewritten."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(one_of("kind", CONSENT_KINDS), name="consent_kind_known"),
        Index("ix_consent_events_customer_occurred", "customer_id", "occurred_at"),
        Index("ix_consent_events_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    customer_id: int = Field(foreign_key="customers.id", ondelete="CASCADE", sa_type=BigId)
    kind: str = Field(max_length=16)
    granted: bool
    method: str = Field(max_length=32, description="in_person, web_form, keyword, import, ...")
    wording: str | None = Field(default=None, sa_type=Text)
    captured_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    message_id: int | None = Field(default=None, sa_type=BigId)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    occurred_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)


class SuppressionEntry(SQLModel, table=True):
    """A one-way hash of a number that opted out; it outlives the customer's erasure."""

    __tablename__ = "suppression_list"
    __table_args__ = (
        UniqueConstraint("business_id", "phone_hash", name="uq_suppression_business_phone"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    phone_hash: str = Field(max_length=64)
    reason: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
