"""Bookings of a staff member's time, their history, and the hours and time off they fit in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, one_of, utcnow

__all__ = [
    "BOOKING_EVENT_KINDS",
    "BOOKING_STATUSES",
    "Booking",
    "BookingEvent",
    "BusinessHours",
    "StaffHours",
    "TimeOff",
]

BOOKING_STATUSES = ("booked", "completed", "cancelled", "no_show")
#: What can happen to a booking; messaging turns created/moved/cancelled into texts.
BOOKING_EVENT_KINDS = ("created", "moved", "cancelled", "completed", "no_show")


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
    #: end_at plus the service's buffer: the staff member is busy until then. PostgreSQL's
    #: exclusion constraint covers [start_at, COALESCE(occupied_until, end_at)).
    occupied_until: datetime | None = Field(default=None)
    status: str = Field(default="booked", max_length=16)
    notes: str | None = Field(default=None, sa_type=Text)
    created_by_user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BusinessHours(SQLModel, table=True):
    """When the business is open on a weekday, in its own time zone (minutes after midnight)."""

    __tablename__ = "business_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="business_hours_weekday"),
        CheckConstraint("opens_minute >= 0 AND closes_minute <= 1440 AND closes_minute > opens_minute",
                        name="business_hours_order"),
        Index("ix_business_hours_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    weekday: int = Field(description="0 = Monday ... 6 = Sunday")
    opens_minute: int
    closes_minute: int


class StaffHours(SQLModel, table=True):
    """When a staff member works on a weekday, in the business's time zone (minutes after midnight)."""

    __tablename__ = "staff_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="staff_hours_weekday"),
        CheckConstraint("starts_minute >= 0 AND ends_minute <= 1440 AND ends_minute > starts_minute",
                        name="staff_hours_order"),
        Index("ix_staff_hours_business_staff", "business_id", "staff_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE", sa_type=BigId)
    weekday: int
    starts_minute: int
    ends_minute: int


class TimeOff(SQLModel, table=True):
    """A span (UTC) when a staff member cannot be booked: holiday, training, sickness."""

    __tablename__ = "time_off"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="time_off_order"),
        Index("ix_time_off_business_staff_starts", "business_id", "staff_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE", sa_type=BigId)
    starts_at: datetime
    ends_at: datetime
    reason: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class BookingEvent(SQLModel, table=True):
    """One change to a booking and who made it: its status history, and messaging's hook.

    ``processed_at`` is for the consumer (messaging) to mark an event it has acted on.
    """

    __tablename__ = "booking_events"
    __table_args__ = (
        CheckConstraint(one_of("kind", BOOKING_EVENT_KINDS), name="booking_event_kind_known"),
        Index("ix_booking_events_booking_id", "booking_id"),
        Index("ix_booking_events_business_created", "business_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int = Field(foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId)
    booking_id: int = Field(foreign_key="bookings.id", ondelete="CASCADE", sa_type=BigId)
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16, description="the booking's status after this event")
    start_at: datetime
    staff_id: int | None = Field(default=None, sa_type=BigId)
    previous_start_at: datetime | None = None
    previous_staff_id: int | None = Field(default=None, sa_type=BigId)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL", sa_type=BigId)
    actor_label: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
