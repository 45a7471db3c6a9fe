"""Staff members, services, and bookings of a staff member's time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, one_of, utcnow

__all__ = ["BOOKING_STATUSES", "Booking", "Service", "StaffMember", "StaffService"]

BOOKING_STATUSES = ("booked", "completed", "cancelled", "no_show")


class StaffMember(SQLModel, table=True):
    """A person whose time can be booked (may or may not have a sign-in)."""

    __tablename__ = "staff"
    __table_args__ = (Index("ix_staff_business_id", "business_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId)
    name: str = Field(max_length=100)
    bio: str | None = Field(default=None, sa_type=Text)
    photo_ref: str | None = Field(default=None, max_length=300)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class Service(SQLModel, table=True):
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
    name: str = Field(max_length=100)
    duration_minutes: int
    price_cents: int = Field(default=0)
    currency: str = Field(default="USD", max_length=3)
    buffer_minutes: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class StaffService(SQLModel, table=True):
    """Which staff member performs which service."""

    __tablename__ = "staff_services"

    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE", primary_key=True, sa_type=BigId)
    service_id: int = Field(
        foreign_key="services.id", ondelete="CASCADE", primary_key=True, sa_type=BigId
    )
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)


class Booking(SQLModel, table=True):
    """A staff member's time reserved for a customer and a service (UTC)."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="booking_ends_after_start"),
        CheckConstraint(one_of("status", BOOKING_STATUSES), name="booking_status_known"),
        Index("ix_bookings_business_start", "business_id", "start_at"),
        Index("ix_bookings_staff_start", "staff_id", "start_at"),
        Index("ix_bookings_customer_id", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    customer_id: int | None = Field(
        default=None, foreign_key="customers.id", ondelete="SET NULL", sa_type=BigId
    )
    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE", sa_type=BigId)
    service_id: int | None = Field(
        default=None, foreign_key="services.id", ondelete="SET NULL", sa_type=BigId
    )
    start_at: datetime
    end_at: datetime
    status: str = Field(default="booked", max_length=16)
    notes: str | None = Field(default=None, sa_type=Text)
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
