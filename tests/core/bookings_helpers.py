"""Helpers for the bookings tests: a salon with hours, a service and a staff member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kaimen_core import bookings, db
from kaimen_core.actors import Actor
from kaimen_core.bookings import Span
from kaimen_core.models import Booking, utcnow
from tests.factories import Tenant, make_business


@dataclass
class Salon:
    tenant: Tenant
    owner: Actor
    zone: ZoneInfo
    service_id: int
    sam_id: int

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A wall-clock time on ``day`` in the salon's zone, as UTC."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(UTC)

    def book(self, day: date, hour: int, minute: int = 0, *, staff_id: int | None = None,
             actor: Actor | None = None) -> bookings.BookingView:
        actor = actor or self.owner
        with db.tenant_session(actor) as session:
            return bookings.create_booking(session, actor=actor, staff_id=staff_id or self.sam_id,
                                           service_id=self.service_id, start_at=self.at(day, hour, minute))

    def slots(self, first: date, last: date | None = None, **kwargs) -> list[bookings.Slot]:
        with db.tenant_session(self.owner) as session:
            return bookings.free_slots(session, actor=self.owner, service_id=self.service_id, start_date=first,
                                       end_date=last or first, **kwargs)

    def local(self, slots: list[bookings.Slot]) -> list[str]:
        return [s.start_at.astimezone(self.zone).strftime("%H:%M") for s in slots]


def make_salon(zone: str = "America/New_York", *, duration: int = 60, buffer: int = 0,
               opens: int = 9 * 60, closes: int = 17 * 60, name: str = "Sam") -> Salon:
    tenant = make_business(time_zone=zone)
    owner = tenant.owner
    with db.tenant_session(owner) as session:
        service_id = bookings.create_service(session, actor=owner, name="Cut", duration_minutes=duration,
                                             buffer_minutes=buffer, price_cents=3000)
        sam_id = bookings.create_staff(session, actor=owner, name=name, service_ids=[service_id])
        bookings.set_business_hours(session, actor=owner, spans=[Span(d, opens, closes) for d in range(7)])
    return Salon(tenant, owner, ZoneInfo(zone), service_id, sam_id)


def future_day(zone: str = "America/New_York", *, weekday: int = 0, weeks_ahead: int = 2) -> date:
    """A ``weekday`` at least ``weeks_ahead`` weeks from today in ``zone``."""
    today = utcnow().astimezone(ZoneInfo(zone)).date() + timedelta(weeks=weeks_ahead)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def transition_day(zone: str, month: int) -> date:
    """The day in ``month`` of next year when the clocks change in ``zone``."""
    tz = ZoneInfo(zone)
    year = utcnow().year + 1
    day = date(year, month, 1)
    while day.month == month:
        before = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
        after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).utcoffset()
        if before != after:
            return day
        day += timedelta(days=1)
    raise AssertionError(f"no clock change in {zone} in month {month}")


def past_booking(salon: Salon, hours_ago: int = 3) -> int:
    """A booking that has already started, written directly (kaimen_core refuses to book the past)."""
    start = utcnow().replace(second=0, microsecond=0) - timedelta(hours=hours_ago)
    with db.tenant_session(salon.owner) as session:
        booking = Booking(business_id=salon.owner.business_id, staff_id=salon.sam_id, service_id=salon.service_id,
                          start_at=start, end_at=start + timedelta(hours=1), occupied_until=start + timedelta(hours=1))
        session.add(booking)
        session.flush()
        return booking.id
