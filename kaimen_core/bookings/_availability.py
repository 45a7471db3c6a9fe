"""Free slots: when a service can be booked, honouring every rule at once.

A slot is free for a staff member when the appointment (start to start + duration)
lies inside their working hours on that local day (business hours, narrowed to the
staff member's own weekly hours if they have any), and the appointment plus the
service's buffer touches no time off and no booking that is not cancelled (each
booking occupies its own time plus its buffer). The buffer may run past closing time.

Weekly hours are wall-clock times, converted to UTC day by day with the business's
zone, so a 9-to-5 day is 9 to 5 on the days clocks change; everything after that is
arithmetic on UTC instants, so a 60-minute slot is 60 real minutes even across the
hour that is skipped or repeated. A local time that does not exist (02:30 on a
spring-forward day in New York) is read with the offset before the change, i.e. 03:30.

Cost: one query each for the staff, hours, time off and bookings in the range (only the
columns needed), then a binary search per candidate start, so the time grows with the
number of candidate slots, barely with the number of existing bookings.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.bookings._roles import VIEW_ROLES
from kaimen_core.bookings._time import business_zone, local_midnight
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Booking, BusinessHours, Service, StaffHours, StaffMember, StaffService, TimeOff, utcnow

__all__ = ["MAX_RANGE_DAYS", "Slot", "free_slots", "working_intervals"]

MAX_RANGE_DAYS = 62
_LONGEST = timedelta(days=1)  # no booking (12 h) plus buffer (4 h) is longer than this

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable start for a service with one staff member (UTC)."""

    staff_id: int
    staff_name: str
    start_at: datetime
    end_at: datetime


def _intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for s1, e1 in a:
        for s2, e2 in b:
            start, end = max(s1, s2), min(e1, e2)
            if start < end:
                out.append((start, end))
    return sorted(out)


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=minute // 1440), time(minute % 1440 // 60, minute % 60),
                            tzinfo=zone).astimezone(UTC)


def working_intervals(
    day: date, zone: ZoneInfo, business: dict[int, list[tuple[int, int]]], own: dict[int, list[tuple[int, int]]] | None,
) -> list[Interval]:
    """A staff member's working time on local ``day``, as UTC intervals.

    ``business`` and ``own`` map a weekday to (start, end) minutes; ``own`` is None for a
    staff member who has no hours of their own.
    """
    weekday = day.weekday()
    minutes = business.get(weekday, [])
    if own is not None:
        minutes = _intersect(minutes, own.get(weekday, []))
    return [(_at(day, s, zone), _at(day, e, zone)) for s, e in minutes if _at(day, s, zone) < _at(day, e, zone)]


def _merged(intervals: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in sorted(intervals):
        if starts and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


class _Calendar:
    """Hours, time off and bookings of some staff over a span of days, loaded once."""

    def __init__(self, session: Session, actor: Actor, zone: ZoneInfo, staff_ids: list[int],
                 first: date, last: date, *, bookings: bool = True) -> None:
        mine = actor.business_id
        self.zone = zone
        self.business: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for weekday, opens, closes in session.exec(
            select(BusinessHours.weekday, BusinessHours.opens_minute, BusinessHours.closes_minute)
            .where(BusinessHours.business_id == mine)
        ):
            self.business[weekday].append((opens, closes))
        self.own: dict[int, dict[int, list[tuple[int, int]]]] = {}
        for staff_id, weekday, starts, ends in session.exec(
            select(StaffHours.staff_id, StaffHours.weekday, StaffHours.starts_minute, StaffHours.ends_minute)
            .where(StaffHours.business_id == mine, col(StaffHours.staff_id).in_(staff_ids))
        ):
            self.own.setdefault(staff_id, defaultdict(list))[weekday].append((starts, ends))
        self.range_start = local_midnight(first, zone)
        self.range_end = local_midnight(last + timedelta(days=1), zone)
        busy: dict[int, list[Interval]] = defaultdict(list)
        for staff_id, start, end in session.exec(
            select(TimeOff.staff_id, TimeOff.starts_at, TimeOff.ends_at).where(
                TimeOff.business_id == mine, col(TimeOff.staff_id).in_(staff_ids),
                TimeOff.starts_at < self.range_end + _LONGEST, TimeOff.ends_at > self.range_start - _LONGEST)
        ):
            busy[staff_id].append((start, end))
        query = select(Booking.staff_id, Booking.start_at, Booking.end_at, Booking.occupied_until).where(
            Booking.business_id == mine, col(Booking.staff_id).in_(staff_ids), Booking.status != "cancelled",
            Booking.start_at < self.range_end + _LONGEST, Booking.start_at >= self.range_start - _LONGEST)
        for staff_id, start, end, occupied in session.exec(query) if bookings else ():
            busy[staff_id].append((start, occupied or end))
        self.busy = {staff_id: _merged(intervals) for staff_id, intervals in busy.items()}

    def working(self, staff_id: int, day: date) -> list[Interval]:
        return working_intervals(day, self.zone, self.business, self.own.get(staff_id))

    def is_free(self, staff_id: int, start: datetime, until: datetime) -> bool:
        """Nothing busy overlaps [start, until)."""
        starts, ends = self.busy.get(staff_id, ([], []))
        i = bisect_right(ends, start)  # the first busy span that ends after ``start``
        return i == len(starts) or starts[i] >= until


def free_slots(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    start_date: date,
    end_date: date,
    staff_id: int | None = None,
    step_minutes: int = 15,
    now: datetime | None = None,
) -> list[Slot]:
    """Free starts for a service from ``start_date`` to ``end_date`` (local dates, inclusive),
    for every active staff member who performs it (or only ``staff_id``), in time order.
    """
    actor.require(*VIEW_ROLES)
    if end_date < start_date:
        raise ValidationError("The end date is before the start date.", field="end_date")
    if (end_date - start_date).days >= MAX_RANGE_DAYS:
        raise ValidationError(f"Look at most {MAX_RANGE_DAYS} days at a time.", field="end_date")
    if not 5 <= step_minutes <= 120:
        raise ValidationError("Slots are 5 to 120 minutes apart.", field="step_minutes")
    service = db.owned(session, Service, service_id, actor=actor)
    if not service.active:
        return []
    query = select(StaffMember.id, StaffMember.name).join(
        StaffService, (StaffService.staff_id == StaffMember.id) & (StaffService.service_id == service.id)
    ).where(StaffMember.business_id == actor.business_id, col(StaffMember.active).is_(True))
    if staff_id is not None:
        db.owned(session, StaffMember, staff_id, actor=actor)
        query = query.where(StaffMember.id == staff_id)
    staff = session.exec(query.order_by(StaffMember.name)).all()
    if not staff:
        return []
    zone = business_zone(session, actor)
    calendar = _Calendar(session, actor, zone, [s for s, _ in staff], start_date, end_date)
    duration = timedelta(minutes=service.duration_minutes)
    occupied = duration + timedelta(minutes=service.buffer_minutes)
    step = timedelta(minutes=step_minutes)
    not_before = now or utcnow()
    slots: list[Slot] = []
    for member_id, name in staff:
        day = start_date
        while day <= end_date:
            for open_at, close_at in calendar.working(member_id, day):
                start = open_at
                while start + duration <= close_at:
                    if start >= not_before and calendar.is_free(member_id, start, start + occupied):
                        slots.append(Slot(member_id, name, start, start + duration))
                    start += step
            day += timedelta(days=1)
    slots.sort(key=lambda s: (s.start_at, s.staff_name))
    return slots
