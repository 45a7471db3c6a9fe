"""Booking confirmations and reminders, sent through the one send path as transactional texts.

Reminders are found by reading the bookings table (the bookings package is not
imported). Each reminder sent is recorded under (booking, kind, start time), so a
booking that moved gets reminders for its new time only, and a cancelled one none.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import ValidationError
from kaimen_core.messaging import _send, _settings
from kaimen_core.models import Booking, Business, Customer, Message, ReminderRecord, Service, StaffMember, utcnow

__all__ = ["CHANGES", "notify_booking_change", "send_due_reminders"]

CHANGES = ("created", "moved", "cancelled")
_REMINDERS = {"24h": timedelta(hours=24), "2h": timedelta(hours=2)}
#: A reminder due this long ago or more is skipped rather than sent late (e.g. booked at short notice).
_GRACE = timedelta(hours=1)


def _values(session: Session, business: Business, booking: Booking, customer: Customer) -> dict[str, str]:
    service = session.get(Service, booking.service_id) if booking.service_id else None
    staff = session.get(StaffMember, booking.staff_id)
    local = booking.start_at.astimezone(ZoneInfo(business.time_zone))
    when = local.strftime("%a %d %b at %H:%M").replace(" 0", " ")
    return {"name": customer.name.split(" ")[0], "service": service.name if service else "your appointment",
            "staff": staff.name if staff else "us", "time": when, "business": business.name}


def _text_for(session: Session, business: Business, booking: Booking, customer: Customer, template: str) -> str:
    templates = _settings.get_templates(session, business.id)
    return _settings.render(templates[template], _values(session, business, booking, customer))


def notify_booking_change(session: Session, *, actor: Actor, booking_id: int, change: str,
                          now: datetime | None = None) -> Message | None:
    """Send the confirmation for a booking created, moved or cancelled (None when it has no customer)."""
    actor.require("owner", "staff")
    if change not in CHANGES:
        raise ValidationError(f"Unknown booking change {change!r}.", field="change")
    booking = db.owned(session, Booking, booking_id, actor=actor)
    customer = session.get(Customer, booking.customer_id) if booking.customer_id else None
    business = session.get(Business, actor.business_id)
    if customer is None or business is None:
        return None
    body = _text_for(session, business, booking, customer, change)
    return _send.queue_text(session, business=business, customer=customer, body=body, kind="transactional",
                            sent_by_user_id=actor.user_id, now=now)


def send_due_reminders(session: Session, *, now: datetime | None = None) -> int:
    """The worker's reminder sweep (a system session): queue every reminder now due; returns how many."""
    now = now or utcnow()
    queued = 0
    horizon = now + max(_REMINDERS.values())
    bookings = session.exec(select(Booking).where(Booking.status == "booked", Booking.start_at > now,
                                                  Booking.start_at <= horizon)).all()
    for booking in bookings:
        business = session.get(Business, booking.business_id)
        customer = session.get(Customer, booking.customer_id) if booking.customer_id else None
        if business is None or customer is None:
            continue
        limits = _send.settings_for(session, business.id)
        for kind, before in _REMINDERS.items():
            if (kind == "24h" and not limits.reminder_24h) or (kind == "2h" and not limits.reminder_2h):
                continue
            due = booking.start_at - before
            if not (due <= now < due + _GRACE) or (kind == "24h" and limits.reminder_2h and
                                                   booking.start_at - now <= _REMINDERS["2h"]):
                continue
            done = session.exec(select(ReminderRecord.id).where(
                ReminderRecord.booking_id == booking.id, ReminderRecord.kind == kind,
                ReminderRecord.start_at == booking.start_at)).first()
            if done:
                continue
            try:
                with session.begin_nested():
                    record = ReminderRecord(business_id=business.id, booking_id=booking.id, kind=kind,
                                            start_at=booking.start_at)
                    session.add(record)
                    session.flush()
                    body = _text_for(session, business, booking, customer, "reminder")
                    message = _send.queue_text(session, business=business, customer=customer, body=body,
                                               kind="transactional", now=now)
                    record.message_id = message.id
                    session.add(record)
            except IntegrityError:  # another worker recorded it first
                continue
            queued += 1
    return queued
