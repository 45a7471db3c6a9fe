"""Customers of a business, the history of their consent, and the opt-out suppression list.

A customer's editable fields are declared once, in :class:`CustomerBase`; the table, the
form and the CSV import read them from there. :class:`CustomerCreate` checks and cleans
what a person typed (or an import row holds), and its refusals are the words the page
and the import report show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationInfo, field_validator, model_validator
from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow
from kaimen_core.validators import (
    clean_email,
    clean_language,
    clean_name,
    clean_notes,
    clean_phone,
    clean_tags,
    clean_time_zone,
)

__all__ = [
    "CONSENT_KINDS",
    "CONSENT_METHODS",
    "ConsentEvent",
    "Customer",
    "CustomerBase",
    "CustomerCreate",
    "CustomerPublic",
    "CustomerUpdate",
    "SuppressionEntry",
    "customer_search_text",
]

CONSENT_KINDS = ("transactional", "marketing", "opt_out", "opt_in")
#: How a consent was captured (shown to the owner; recorded on every consent event).
CONSENT_METHODS = ("in_person", "web_form", "keyword", "import", "phone_call", "paper_form")
MAX_NAME = 200
MAX_NOTES = 5000
MAX_TAGS = 20
MAX_TAG = 40


class CustomerBase(SQLModel):
    """A customer's editable fields, as stored; ``title`` and ``description`` are what a form shows."""

    name: str = Field(max_length=MAX_NAME, title="Name")
    phone_e164: str | None = Field(default=None, max_length=20, title="Phone",
                                   description="Any format; numbers from other countries need their country code")
    email: str | None = Field(default=None, max_length=254, title="Email")
    notes: str | None = Field(default=None, sa_type=Text, title="Notes")
    tags: list[str] = Field(default_factory=list, sa_type=JsonDoc, title="Tags", description="Separated by commas")
    preferred_language: str | None = Field(default=None, max_length=16, title="Preferred language",
                                           description="e.g. en, es, pt-br")
    time_zone: str | None = Field(default=None, max_length=64, title="Time zone",
                                  description="When known, e.g. America/New_York")


#: A field as people type it, where its name differs from the column's.
_TYPED_AS = {"phone_e164": "phone"}
_INPUTS = {_TYPED_AS.get(name, name): name for name in CustomerBase.model_fields}


def _phone(value: str | None, context: Mapping[str, Any]) -> str | None:
    if "region" not in context:
        raise TypeError("a phone number is read in a region: use CustomerCreate.read(typed, region=...)")
    read = context.get("read_phone")
    return read(value) if read else clean_phone(value, region=context["region"], required=False)


#: How each editable field is checked and cleaned: ``(value as typed, context) -> value``.
_CLEANERS: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "name": lambda value, _: clean_name(value, field="name", label="Name", max_length=MAX_NAME),
    "phone_e164": _phone,
    "email": lambda value, _: clean_email(value, required=False),
    "notes": lambda value, _: clean_notes(value, max_length=MAX_NOTES),
    "tags": lambda value, _: clean_tags(value, most=MAX_TAGS, longest=MAX_TAG),
    "preferred_language": lambda value, _: clean_language(value),
    "time_zone": lambda value, _: clean_time_zone(value) if (value or "").strip() else None,
}


class CustomerCreate(CustomerBase):
    """A new customer as typed in the form or read from an import row, every field checked and cleaned.

    Fields are typed under the names of :meth:`inputs` (the number is ``phone``); one left
    out is empty. The phone is read in the business's region. The first problem raises
    ValidationError naming its field as typed, in field order, in the words the page and
    the import report show.
    """

    @classmethod
    def inputs(cls) -> dict[str, str]:
        """``{name as typed: column}`` for every editable field, in the form's order."""
        return dict(_INPUTS)

    @classmethod
    def read(cls, typed: Mapping[str, Any], *, region: str) -> CustomerCreate:
        """The fields of ``typed``, checked and cleaned (the form's path)."""
        return cls.model_validate(typed, context={"region": region})

    @classmethod
    def clean(cls, typed: Mapping[str, Any], *, region: str,
              read_phone: Callable[[str | None], str | None] | None = None) -> dict[str, Any]:
        """``read(typed).model_dump()`` without building a model, other keys of ``typed`` left
        alone: the import's path, row by row (a model per row costs four times its checks).
        ``read_phone`` reads many phones fast; it gives exactly what
        ``clean_phone(value, region=region, required=False)`` gives."""
        context = {"region": region, "read_phone": read_phone}
        return {column: _CLEANERS[column](typed.get(name), context) for name, column in _INPUTS.items()}

    @model_validator(mode="before")
    @classmethod
    def _as_typed(cls, typed: Mapping[str, Any]) -> dict[str, Any]:
        if not typed.keys() <= _INPUTS.keys():
            raise TypeError(f"not a customer field: {', '.join(sorted(typed.keys() - _INPUTS.keys()))}")
        return {column: typed.get(name) for name, column in _INPUTS.items()}

    @field_validator("*", mode="before")
    @classmethod
    def _cleaned(cls, value: Any, info: ValidationInfo) -> Any:
        return _CLEANERS[info.field_name](value, info.context or {})


class CustomerUpdate(CustomerCreate):
    """An edit: every editable field is replaced by the form's value (an empty one clears it)."""


class Customer(CustomerBase, table=True):
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


class _RowId(SQLModel):
    """A stored row's id; a base of a read shape lists it first (the search statements' column order)."""

    id: int


class CustomerPublic(CustomerBase, _RowId):
    """A customer as pages show it (no search column)."""

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
