"""What the calendar page draws: a day grid (staff across) or a week grid (days across)
for one staff member, and the customers a booking can be for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.bookings._availability import _Calendar
from kaimen_core.bookings._lifecycle import BookingView, _views
from kaimen_core.bookings._roles import VIEW_ROLES
from kaimen_core.bookings._time import business_zone, local_midnight
from kaimen_core.models import Booking, Customer, StaffMember

__all__ = ["CalendarGrid", "customer_choices", "day_grid", "week_grid"]

_STATUS_MARK = {"booked": "", "completed": "✓ ", "no_show": "✗ no-show · ", "cancelled": "cancelled · "}


@dataclass(frozen=True, slots=True)
class CalendarGrid:
    """Rows of local clock times, one column per staff member or day; a cell is a booking's label,
    ``·`` where the staff member works and nothing is booked, empty where they do not work."""

    times: list[str]
    columns: list[str]
    cells: list[list[str]]
    bookings: list[BookingView]


def _label(b: BookingView) -> str:
    who = b.customer_name or "walk-in"
    return f"{_STATUS_MARK.get(b.status, '')}{who} · {b.service_name or 'service'}"


def _grid(session: Session, actor: Actor, columns: list[tuple[str, int, date]], step: int) -> CalendarGrid:
    zone = business_zone(session, actor)
    days = sorted({d for _, _, d in columns})
    staff_ids = sorted({s for _, s, _ in columns})
    calendar = _Calendar(session, actor, zone, staff_ids, days[0], days[-1], bookings=False)
    found = _views(session, actor, col(Booking.staff_id).in_(staff_ids), Booking.status != "cancelled",
                   Booking.start_at >= local_midnight(days[0], zone),
                   Booking.start_at < local_midnight(days[-1] + timedelta(days=1), zone))
    working = {(s, d): calendar.working(s, d) for _, s, d in columns}
    # every span shown, as local (start, end): the grid's first and last rows cover them all
    shown = [(a.astimezone(zone), b.astimezone(zone)) for spans in working.values() for a, b in spans]
    shown += [(b.start_at.astimezone(zone), b.end_at.astimezone(zone)) for b in found]
    first = min((a.hour * 60 + a.minute for a, _ in shown), default=9 * 60) // step * step
    last = max((b.hour * 60 + b.minute if b.date() == a.date() else 24 * 60 for a, b in shown), default=17 * 60)
    times = list(range(first, max(last, first + step), step))
    cells = [["" for _ in columns] for _ in times]
    for j, (_, staff_id, day) in enumerate(columns):
        for i, minute in enumerate(times):
            # the row's wall-clock time in the business's zone (compared with UTC times as instants)
            at = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(minutes=minute)
            if any(a <= at < b for a, b in working[(staff_id, day)]):
                cells[i][j] = "·"
            for b in found:
                if b.staff_id == staff_id and b.start_at.astimezone(zone).date() == day and \
                        b.start_at <= at < b.end_at:
                    cells[i][j] = _label(b) if b.start_at > at - timedelta(minutes=step) else "│"
    labels = [f"{m // 60:02d}:{m % 60:02d}" for m in times]
    return CalendarGrid(labels, [name for name, _, _ in columns], cells, found)


def day_grid(session: Session, *, actor: Actor, day: date, step_minutes: int = 30) -> CalendarGrid:
    """One local day, a column per active staff member."""
    actor.require(*VIEW_ROLES)
    staff = session.exec(select(StaffMember.id, StaffMember.name).where(
        StaffMember.business_id == actor.business_id, col(StaffMember.active).is_(True)).order_by(StaffMember.name)
    ).all()
    if not staff:
        return CalendarGrid([], [], [], [])
    return _grid(session, actor, [(name, staff_id, day) for staff_id, name in staff], step_minutes)


def week_grid(session: Session, *, actor: Actor, staff_id: int, week_of: date, step_minutes: int = 30) -> CalendarGrid:
    """The Monday-to-Sunday week holding ``week_of`` for one staff member, a column per day."""
    actor.require(*VIEW_ROLES)
    db.owned(session, StaffMember, staff_id, actor=actor)
    monday = week_of - timedelta(days=week_of.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    return _grid(session, actor, [(f"{d:%a} {d.day} {d:%b}", staff_id, d) for d in days], step_minutes)


def customer_choices(session: Session, *, actor: Actor, limit: int = 500) -> list[tuple[int, str]]:
    """Customers a booking can be for, by name: ``(id, name)``."""
    actor.require(*VIEW_ROLES)
    rows = session.exec(select(Customer.id, Customer.name).where(Customer.business_id == actor.business_id)
                        .order_by(Customer.name, Customer.id).limit(max(1, min(limit, 5000)))).all()
    return [(customer_id, name) for customer_id, name in rows]
