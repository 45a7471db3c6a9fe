"""Opening hours, staff working hours and time off.

Weekly hours are wall-clock times in the business's time zone (minutes after local
midnight), so "9:00 to 17:00 on Mondays" stays 9 to 5 across daylight-saving changes.
A staff member with no weekly hours of their own works whenever the business is open;
with their own hours, they work those hours while the business is open. Time off is a
span of absolute (UTC) time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

from sqlmodel import Session, delete, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.bookings._roles import MANAGE_ROLES, VIEW_ROLES
from kaimen_core.bookings._time import as_utc
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import BusinessHours, StaffHours, StaffMember, TimeOff
from kaimen_core.validators import clean_text

__all__ = [
    "WEEKDAYS",
    "Span",
    "TimeOffView",
    "add_time_off",
    "business_hours",
    "list_time_off",
    "remove_time_off",
    "set_business_hours",
    "set_staff_hours",
    "staff_hours",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Open (or working) from ``start`` to ``end`` minutes after local midnight on ``weekday`` (0 = Monday)."""

    weekday: int
    start: int
    end: int

    @classmethod
    def of(cls, weekday: int, start: time, end: time) -> Span:
        """From clock times; an end of 00:00 means midnight at the end of the day."""
        end_minute = end.hour * 60 + end.minute or 24 * 60
        return cls(int(weekday), start.hour * 60 + start.minute, end_minute)

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.start // 60:02d}:{self.start % 60:02d}–" \
               f"{self.end // 60:02d}:{self.end % 60:02d}"


@dataclass(frozen=True, slots=True)
class TimeOffView:
    """A staff member's time off (UTC)."""

    id: int
    staff_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str | None


def _checked(spans: Iterable[Span]) -> list[Span]:
    checked = sorted(set(spans))
    for span in checked:
        if not 0 <= span.weekday <= 6:
            raise ValidationError("Weekday must be 0 (Monday) to 6 (Sunday).", field="hours")
        if not 0 <= span.start < span.end <= 24 * 60:
            raise ValidationError(f"{WEEKDAYS[span.weekday]}: closing time must be after opening time.",
                                  field="hours")
    for before, after in itertools.pairwise(checked):
        if before.weekday == after.weekday and after.start < before.end:
            raise ValidationError(f"{WEEKDAYS[before.weekday]}: hours overlap ({before.label} and {after.label}).",
                                  field="hours")
    return checked


def business_hours(session: Session, *, actor: Actor) -> list[Span]:
    """The business's opening hours, by weekday."""
    actor.require(*VIEW_ROLES)
    rows = session.exec(select(BusinessHours).where(BusinessHours.business_id == actor.business_id)).all()
    return sorted(Span(r.weekday, r.opens_minute, r.closes_minute) for r in rows)


def set_business_hours(session: Session, *, actor: Actor, spans: Iterable[Span]) -> None:
    """An owner replaces the opening hours (a weekday without a span is closed)."""
    actor.require(*MANAGE_ROLES)
    checked = _checked(spans)
    session.exec(delete(BusinessHours).where(BusinessHours.business_id == actor.business_id))
    session.add_all(BusinessHours(business_id=actor.business_id, weekday=s.weekday, opens_minute=s.start,
                                  closes_minute=s.end) for s in checked)
    session.flush()
    audit.record(session, actor=actor, action="hours.business_set", target_type="business",
                 target_id=actor.business_id, detail={"spans": len(checked)})


def staff_hours(session: Session, *, actor: Actor, staff_id: int) -> list[Span]:
    """A staff member's own weekly hours (empty: they work the business's hours)."""
    actor.require(*VIEW_ROLES)
    db.owned(session, StaffMember, staff_id, actor=actor)
    rows = session.exec(select(StaffHours).where(StaffHours.business_id == actor.business_id,
                                                 StaffHours.staff_id == staff_id)).all()
    return sorted(Span(r.weekday, r.starts_minute, r.ends_minute) for r in rows)


def set_staff_hours(session: Session, *, actor: Actor, staff_id: int, spans: Iterable[Span]) -> None:
    """An owner replaces a staff member's weekly hours (none: the business's hours)."""
    actor.require(*MANAGE_ROLES)
    db.owned(session, StaffMember, staff_id, actor=actor)
    checked = _checked(spans)
    session.exec(delete(StaffHours).where(StaffHours.business_id == actor.business_id,
                                          StaffHours.staff_id == staff_id))
    session.add_all(StaffHours(business_id=actor.business_id, staff_id=staff_id, weekday=s.weekday,
                               starts_minute=s.start, ends_minute=s.end) for s in checked)
    session.flush()
    audit.record(session, actor=actor, action="hours.staff_set", target_type="staff", target_id=staff_id,
                 detail={"spans": len(checked)})


def list_time_off(
    session: Session, *, actor: Actor, staff_id: int | None = None, since: datetime | None = None,
) -> list[TimeOffView]:
    """Time off, soonest first; ``since`` leaves out spans that ended before it."""
    actor.require(*VIEW_ROLES)
    query = select(TimeOff).where(TimeOff.business_id == actor.business_id)
    if staff_id is not None:
        db.owned(session, StaffMember, staff_id, actor=actor)
        query = query.where(TimeOff.staff_id == staff_id)
    if since is not None:
        query = query.where(TimeOff.ends_at > as_utc(since, field="since"))
    rows = session.exec(query.order_by(TimeOff.starts_at, TimeOff.id)).all()
    return [TimeOffView(r.id, r.staff_id, r.starts_at, r.ends_at, r.reason) for r in rows]


def add_time_off(
    session: Session, *, actor: Actor, staff_id: int, starts_at: datetime, ends_at: datetime,
    reason: str | None = None,
) -> int:
    """An owner blocks out a staff member's time. Existing bookings in it are not touched."""
    actor.require(*MANAGE_ROLES)
    db.owned(session, StaffMember, staff_id, actor=actor)
    start, end = as_utc(starts_at, field="starts_at"), as_utc(ends_at, field="ends_at")
    if end <= start:
        raise ValidationError("Time off must end after it starts.", field="ends_at")
    text = clean_text(reason, field="reason", label="The reason")[:100] or None
    row = TimeOff(business_id=actor.business_id, staff_id=staff_id, starts_at=start, ends_at=end, reason=text)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="hours.time_off_added", target_type="staff", target_id=staff_id)
    return row.id


def remove_time_off(session: Session, *, actor: Actor, time_off_id: int) -> None:
    """An owner removes a span of time off."""
    actor.require(*MANAGE_ROLES)
    row = db.owned(session, TimeOff, time_off_id, actor=actor)
    session.delete(row)
    session.flush()
    audit.record(session, actor=actor, action="hours.time_off_removed", target_type="staff", target_id=row.staff_id)


