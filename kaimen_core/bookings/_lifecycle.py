"""Bookings: create, reschedule, cancel, complete, no-show; and who changed what.

No staff member is ever booked for overlapping time. Every write first looks for a
clash inside its own transaction: on SQLite that transaction began with ``BEGIN
IMMEDIATE``, so check-then-write is serialised across threads and processes; on
PostgreSQL writers for one staff member take turns under a transaction-level advisory
lock. The exclusion constraint ``bookings_no_overlap`` still decides on PostgreSQL (a
writer that skipped the lock, or another code path, can pass the look-up); its refusal
(sqlstate 23P01) is caught at a savepoint and becomes a :class:`Conflict` naming the
booking that won, in the business's time zone.

Each change adds a :class:`BookingEvent` (the status history, and the hook messaging
reads to send confirmations and reminders) and an audit event, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from kaimen_core import audit, db, messaging
from kaimen_core.actors import Actor
from kaimen_core.bookings._availability import _Calendar
from kaimen_core.bookings._roles import VIEW_ROLES
from kaimen_core.bookings._time import as_utc, business_zone, clock, day_label
from kaimen_core.exceptions import Conflict, NotFound, ValidationError
from kaimen_core.models import BOOKING_STATUSES, Booking, BookingEvent, Customer, StaffService, utcnow
from kaimen_core.models import Service as ServiceRow
from kaimen_core.models import StaffMember as StaffRow
from kaimen_core.validators import clean_notes

__all__ = [
    "BookingView",
    "cancel_booking",
    "complete_booking",
    "create_booking",
    "get_booking",
    "list_bookings",
    "mark_no_show",
    "reschedule_booking",
]

MAX_NOTES = 1000
MAX_LIST_DAYS = 93


@dataclass(frozen=True, slots=True)
class BookingView:
    """A booking as pages show it, with the names of who and what (times in UTC)."""

    id: int
    staff_id: int
    staff_name: str
    service_id: int | None
    service_name: str | None
    customer_id: int | None
    customer_name: str | None
    start_at: datetime
    end_at: datetime
    occupied_until: datetime
    status: str
    notes: str | None


def _views(session: Session, actor: Actor, *where) -> list[BookingView]:
    query = (
        select(Booking, StaffRow.name, ServiceRow.name, Customer.name)
        .join(StaffRow, StaffRow.id == Booking.staff_id)
        .outerjoin(ServiceRow, ServiceRow.id == Booking.service_id)
        .outerjoin(Customer, Customer.id == Booking.customer_id)
        .where(Booking.business_id == actor.business_id, *where)
        .order_by(Booking.start_at, Booking.id)
    )
    return [
        BookingView(b.id, b.staff_id, staff, b.service_id, service, b.customer_id, customer, b.start_at, b.end_at,
                    b.occupied_until or b.end_at, b.status, b.notes)
        for b, staff, service, customer in session.exec(query)
    ]


def get_booking(session: Session, *, actor: Actor, booking_id: int) -> BookingView:
    """One booking of the actor's business."""
    actor.require(*VIEW_ROLES)
    found = _views(session, actor, Booking.id == booking_id)
    if not found:
        raise NotFound("No such booking.")
    return found[0]


def list_bookings(
    session: Session, *, actor: Actor, start_at: datetime, end_at: datetime, staff_id: int | None = None,
    status: str | None = None, customer_id: int | None = None,
) -> list[BookingView]:
    """Bookings starting in [start_at, end_at), optionally for one staff member, status or customer."""
    actor.require(*VIEW_ROLES)
    start, end = as_utc(start_at), as_utc(end_at, field="end_at")
    if end <= start or end - start > timedelta(days=MAX_LIST_DAYS):
        raise ValidationError(f"Choose a range of 1 to {MAX_LIST_DAYS} days.", field="end_at")
    where = [Booking.start_at >= start, Booking.start_at < end]
    if staff_id is not None:
        db.owned(session, StaffRow, staff_id, actor=actor)
        where.append(Booking.staff_id == staff_id)
    if status is not None:
        if status not in BOOKING_STATUSES:
            raise ValidationError("Unknown status.", field="status")
        where.append(Booking.status == status)
    if customer_id is not None:
        db.owned(session, Customer, customer_id, actor=actor)
        where.append(Booking.customer_id == customer_id)
    return _views(session, actor, *where)


def _record(session: Session, actor: Actor, booking: Booking, kind: str, *, previous: Booking | None = None) -> None:
    """The booking's history row, its audit event, and (created, moved, cancelled) the
    customer's confirmation text, queued through messaging's send path in this transaction."""
    event = BookingEvent(
        business_id=booking.business_id, booking_id=booking.id, kind=kind, status=booking.status,
        start_at=booking.start_at, staff_id=booking.staff_id,
        previous_start_at=previous.start_at if previous else None,
        previous_staff_id=previous.staff_id if previous else None,
        actor_user_id=actor.user_id, actor_label=actor.label[:60],
    )
    if kind in messaging.CHANGES:
        session.flush()
        messaging.notify_booking_change(session, actor=actor, booking_id=booking.id, change=kind)
        event.processed_at = utcnow()
    session.add(event)
    audit.record(session, actor=actor, action=f"booking.{kind}", target_type="booking", target_id=booking.id,
                 detail={"staff_id": booking.staff_id, "status": booking.status})


def _clash_message(session: Session, actor: Actor, zone: ZoneInfo, staff_id: int, start: datetime,
                   occupied: datetime, ignore: int | None) -> str | None:
    """The booking that [start, occupied) would overlap for ``staff_id``, said plainly; None if none."""
    query = select(Booking.start_at, Booking.end_at, Booking.occupied_until).where(
        Booking.business_id == actor.business_id, Booking.staff_id == staff_id,
        Booking.status != "cancelled", Booking.start_at < occupied,
        func.coalesce(Booking.occupied_until, Booking.end_at) > start,
    )
    if ignore is not None:
        query = query.where(Booking.id != ignore)
    clash = session.exec(query.order_by(Booking.start_at).limit(1)).first()
    if clash is None:
        return None
    begins, ends, until = clash
    name = session.exec(select(StaffRow.name).where(StaffRow.id == staff_id)).one()
    text = f"{name} is already booked {clock(begins, zone)}–{clock(ends, zone)} on {day_label(begins, zone)}"
    if until and until > ends:
        text += f" (with {int((until - ends).total_seconds() // 60)} minutes' buffer after it)"
    return text + ". Choose another time or staff member."


def _write(session: Session, actor: Actor, zone: ZoneInfo, booking: Booking) -> None:
    """Add or update ``booking`` unless it overlaps another; Conflict (never an IntegrityError) if it does."""
    wanted = (booking.staff_id, booking.start_at, booking.occupied_until or booking.end_at, booking.id)
    if session.get_bind().dialect.name == "postgresql":
        # Writers for one staff member take turns until their transactions end, so a loser's look-up
        # sees the winner. Without it, overlapping inserts wait on each other inside the constraint's
        # check and PostgreSQL aborts one as a deadlock instead of refusing it as a clash.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"bookings.staff:{booking.staff_id}"})
    message = _clash_message(session, actor, zone, *wanted)
    if message:
        raise Conflict(message)
    try:
        with session.begin_nested():  # a savepoint: the transaction survives the constraint's refusal
            session.add(booking)
            session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != "23P01":
            raise
        raise Conflict(_clash_message(session, actor, zone, *wanted)
                       or "That staff member was booked for this time a moment ago. Choose another time.") from None


def _check_bookable(session: Session, actor: Actor, zone: ZoneInfo, staff: StaffRow, start: datetime,
                    end: datetime, occupied: datetime) -> None:
    """Inside the staff member's working hours, not in their time off, not in the past."""
    if start < utcnow() - timedelta(minutes=5):
        raise ValidationError("That time has already passed.", field="start_at")
    day = start.astimezone(zone).date()
    calendar = _Calendar(session, actor, zone, [staff.id], day, day, bookings=False)
    if not any(open_at <= start and end <= close_at for open_at, close_at in calendar.working(staff.id, day)):
        raise ValidationError(f"{staff.name} does not work {clock(start, zone)}–{clock(end, zone)} on "
                              f"{day_label(start, zone)}.", field="start_at")
    if not calendar.is_free(staff.id, start, occupied):
        raise ValidationError(f"{staff.name} has time off then ({clock(start, zone)} on {day_label(start, zone)}).",
                              field="start_at")


def create_booking(
    session: Session, *, actor: Actor, staff_id: int, service_id: int, start_at: datetime,
    customer_id: int | None = None, notes: str | None = None,
) -> BookingView:
    """Book ``service_id`` with ``staff_id`` at ``start_at`` (owners and staff)."""
    actor.require(*VIEW_ROLES)
    staff = db.owned(session, StaffRow, staff_id, actor=actor)
    service = db.owned(session, ServiceRow, service_id, actor=actor)
    if not staff.active:
        raise ValidationError(f"{staff.name} is not taking bookings.", field="staff_id")
    if not service.active:
        raise ValidationError(f"{service.name} is not offered at the moment.", field="service_id")
    performs = session.exec(select(StaffService.staff_id).where(
        StaffService.business_id == actor.business_id, StaffService.staff_id == staff.id,
        StaffService.service_id == service.id)).first()
    if performs is None:
        raise ValidationError(f"{staff.name} does not perform {service.name}.", field="service_id")
    if customer_id is not None:
        db.owned(session, Customer, customer_id, actor=actor)
    text = clean_notes(notes, max_length=MAX_NOTES)
    zone = business_zone(session, actor)
    start = as_utc(start_at).replace(second=0, microsecond=0)
    end = start + timedelta(minutes=service.duration_minutes)
    occupied = end + timedelta(minutes=service.buffer_minutes)
    _check_bookable(session, actor, zone, staff, start, end, occupied)
    booking = Booking(business_id=actor.business_id, customer_id=customer_id, staff_id=staff.id,
                      service_id=service.id, start_at=start, end_at=end, occupied_until=occupied,
                      notes=text, created_by_user_id=actor.user_id)
    _write(session, actor, zone, booking)
    _record(session, actor, booking, "created")
    return get_booking(session, actor=actor, booking_id=booking.id)


def reschedule_booking(
    session: Session, *, actor: Actor, booking_id: int, start_at: datetime, staff_id: int | None = None,
) -> BookingView:
    """Move a booked appointment to ``start_at`` (and optionally to another staff member)."""
    actor.require(*VIEW_ROLES)
    booking = db.owned(session, Booking, booking_id, actor=actor)
    if booking.status != "booked":
        raise ValidationError(f"Only booked appointments can be moved; this one is {booking.status}.",
                              field="booking_id")
    staff = db.owned(session, StaffRow, staff_id if staff_id is not None else booking.staff_id, actor=actor)
    if staff.id != booking.staff_id and booking.service_id is not None:
        performs = session.exec(select(StaffService.staff_id).where(
            StaffService.business_id == actor.business_id, StaffService.staff_id == staff.id,
            StaffService.service_id == booking.service_id)).first()
        if performs is None or not staff.active:
            raise ValidationError(f"{staff.name} does not take this service.", field="staff_id")
    previous = Booking(start_at=booking.start_at, staff_id=booking.staff_id, business_id=booking.business_id,
                       end_at=booking.end_at)
    zone = business_zone(session, actor)
    length = booking.end_at - booking.start_at
    buffer = (booking.occupied_until or booking.end_at) - booking.end_at
    start = as_utc(start_at).replace(second=0, microsecond=0)
    _check_bookable(session, actor, zone, staff, start, start + length, start + length + buffer)
    booking.staff_id, booking.start_at = staff.id, start
    booking.end_at, booking.occupied_until = start + length, start + length + buffer
    booking.updated_at = utcnow()
    _write(session, actor, zone, booking)
    _record(session, actor, booking, "moved", previous=previous)
    return get_booking(session, actor=actor, booking_id=booking.id)


def _set_status(session: Session, actor: Actor, booking_id: int, status: str, kind: str) -> BookingView:
    actor.require(*VIEW_ROLES)
    booking = db.owned(session, Booking, booking_id, actor=actor)
    if booking.status != "booked":
        raise ValidationError(f"This booking is already {booking.status.replace('_', '-')}.", field="booking_id")
    if status in ("completed", "no_show") and booking.start_at > utcnow():
        raise ValidationError("An appointment can be completed or marked no-show once it has started.",
                              field="booking_id")
    booking.status = status
    booking.updated_at = utcnow()
    session.add(booking)
    session.flush()
    _record(session, actor, booking, kind)
    return get_booking(session, actor=actor, booking_id=booking.id)


def cancel_booking(session: Session, *, actor: Actor, booking_id: int) -> BookingView:
    """Cancel a booking; its time is free again at once."""
    return _set_status(session, actor, booking_id, "cancelled", "cancelled")


def complete_booking(session: Session, *, actor: Actor, booking_id: int) -> BookingView:
    """Mark an appointment that has started as completed."""
    return _set_status(session, actor, booking_id, "completed", "completed")


def mark_no_show(session: Session, *, actor: Actor, booking_id: int) -> BookingView:
    """Mark an appointment whose customer did not come."""
    return _set_status(session, actor, booking_id, "no_show", "no_show")


