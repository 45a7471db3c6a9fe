"""Staff members and the services they perform, each a family: the fields an owner sets,
those fields checked as typed, the table, and the shape pages read."""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator
from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.exceptions import ValidationError
from kaimen_core.models._types import BigId, utcnow
from kaimen_core.validators import clean_name, clean_text

__all__ = [
    "MAX_BIO",
    "MAX_BUFFER",
    "MAX_DURATION",
    "Service",
    "ServiceBase",
    "ServiceCreate",
    "ServiceUpdate",
    "ServiceView",
    "StaffBase",
    "StaffCreate",
    "StaffMember",
    "StaffService",
    "StaffUpdate",
    "StaffView",
]

MAX_DURATION = 12 * 60
MAX_BUFFER = 4 * 60
MAX_BIO = 1000


class StaffBase(SQLModel):
    """What an owner sets about a staff member."""

    name: str = Field(max_length=100)
    bio: str | None = Field(default=None, sa_type=Text)
    active: bool = Field(default=True)


class StaffCreate(StaffBase):
    """A staff member as the owner typed them, checked and cleaned."""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: str | None) -> str:
        return clean_name(value, field="name", label="Name")

    @field_validator("bio", mode="before")
    @classmethod
    def _bio(cls, value: str | None) -> str | None:
        return clean_text(value, field="bio", label="Bio", max_length=MAX_BIO, multiline=True) or None


class StaffUpdate(StaffCreate):
    """An edit: every field replaced by the form's value."""


class StaffMember(StaffBase, table=True):
    """A person whose time can be booked (may or may not have a sign-in)."""

    __tablename__ = "staff"
    __table_args__ = (Index("ix_staff_business_id", "business_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId)
    photo_ref: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class StaffView(StaffBase):
    """A staff member as pages show them, with the services they perform."""

    id: int
    has_photo: bool
    service_ids: tuple[int, ...]


class ServiceBase(SQLModel):
    """What an owner sets about a service."""

    name: str = Field(max_length=100)
    duration_minutes: int
    price_cents: int = Field(default=0)
    currency: str = Field(default="USD", max_length=3)
    buffer_minutes: int = Field(default=0)
    active: bool = Field(default=True)


def _minutes(value: object, low: int, high: int, label: str, field: str) -> int:
    if not low <= int(value) <= high:
        raise ValidationError(f"{label} must be between {low} and {high} minutes.", field=field)
    return int(value)


class ServiceCreate(ServiceBase):
    """A service as the owner typed it, checked and cleaned."""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: str | None) -> str:
        return clean_name(value, field="name", label="Service name")

    @field_validator("duration_minutes", mode="before")
    @classmethod
    def _duration(cls, value: object) -> int:
        return _minutes(value, 5, MAX_DURATION, "Duration", "duration_minutes")

    @field_validator("price_cents", mode="before")
    @classmethod
    def _price(cls, value: object) -> int:
        if int(value) < 0:
            raise ValidationError("Price cannot be negative.", field="price_cents")
        return int(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: str | None) -> str:
        code = (value or "").strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValidationError("Currency must be a three-letter code such as USD.", field="currency")
        return code

    @field_validator("buffer_minutes", mode="before")
    @classmethod
    def _buffer(cls, value: object) -> int:
        return _minutes(value, 0, MAX_BUFFER, "Buffer", "buffer_minutes")


class ServiceUpdate(ServiceCreate):
    """An edit: every field replaced by the form's value. Existing bookings keep their times."""


class Service(ServiceBase, table=True):
    """Something the business sells by the appointment."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="service_duration_positive"),
        CheckConstraint("buffer_minutes >= 0", name="service_buffer_not_negative"),
        CheckConstraint("price_cents >= 0", name="service_price_not_negative"),
        Index("ix_services_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    created_at: datetime = Field(default_factory=utcnow)


class ServiceView(ServiceBase):
    """A service as pages show it, with the staff who perform it."""

    id: int
    staff_ids: tuple[int, ...]

    @property
    def price(self) -> str:
        return f"{self.price_cents / 100:.2f} {self.currency}"


class StaffService(SQLModel, table=True):
    """Which staff member performs which service."""

    __tablename__ = "staff_services"

    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE", primary_key=True, sa_type=BigId)
    service_id: int = Field(
        foreign_key="services.id", ondelete="CASCADE", primary_key=True, sa_type=BigId
    )
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
