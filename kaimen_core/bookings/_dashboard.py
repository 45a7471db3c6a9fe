"""The Home page's booking charts: bookings per week, no-show rate, utilisation by staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from kaimen_core.actors import Actor
from kaimen_core.bookings._availability import _Calendar
from kaimen_core.bookings._roles import VIEW_ROLES
from kaimen_core.bookings._time import business_zone, local_midnight
from kaimen_core.models import Booking, StaffMember, utcnow

__all__ = ["DashboardFigures", "dashboard_figures"]


@dataclass(frozen=True, slots=True)
class DashboardFigures:
    """Weekly series (weeks start on Monday, in the business's zone) and utilisation by staff."""

    weeks: list[date]
    bookings_per_week: list[int]
    no_show_rate: list[float | None]
    utilisation_days: int
    utilisation: dict[str, float]


def dashboard_figures(
    session: Session, *, actor: Actor, weeks: int = 8, utilisation_days: int = 28
) -> DashboardFigures:
    """``weeks`` weeks up to and including this one, and utilisation over the last ``utilisation_days`` days.

    Bookings per week counts every booking that was not cancelled. The no-show rate is
    no-shows out of appointments that have happened (completed or no-show); None for a
    week without any. Utilisation is booked time (not cancelled, buffers excluded) over
    working time, for each active staff member.
    """
    actor.require(*VIEW_ROLES)
    weeks = max(1, min(weeks, 52))
    zone = business_zone(session, actor)
    now = utcnow()
    today = now.astimezone(zone).date()
    this_monday = today - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    first = local_midnight(mondays[0], zone)
    last = local_midnight(this_monday + timedelta(days=7), zone)
    counts = [0] * weeks
    happened = [0] * weeks
    no_shows = [0] * weeks
    rows = session.exec(select(Booking.start_at, Booking.status).where(
        Booking.business_id == actor.business_id, Booking.start_at >= first, Booking.start_at < last,
        Booking.status != "cancelled"))
    for start, status in rows:
        index = (start.astimezone(zone).date() - mondays[0]).days // 7
        counts[index] += 1
        if status in ("completed", "no_show"):
            happened[index] += 1
            no_shows[index] += status == "no_show"
    rate = [round(n / h, 3) if h else None for n, h in zip(no_shows, happened, strict=True)]

    staff = session.exec(select(StaffMember.id, StaffMember.name).where(
        StaffMember.business_id == actor.business_id, col(StaffMember.active).is_(True)).order_by(StaffMember.name)
    ).all()
    utilisation: dict[str, float] = {}
    if staff:
        first_day = today - timedelta(days=utilisation_days)
        calendar = _Calendar(session, actor, zone, [s for s, _ in staff], first_day, today, bookings=False)
        window_start, window_end = local_midnight(first_day, zone), now
        booked: dict[int, float] = {}
        for staff_id, start, end in session.exec(select(Booking.staff_id, Booking.start_at, Booking.end_at).where(
                Booking.business_id == actor.business_id, Booking.status != "cancelled",
                Booking.start_at >= window_start, Booking.start_at < window_end)):
            booked[staff_id] = booked.get(staff_id, 0.0) + (min(end, window_end) - start).total_seconds()
        for staff_id, name in staff:
            working = 0.0
            day = first_day
            while day <= today:
                for open_at, close_at in calendar.working(staff_id, day):
                    working += max(0.0, (min(close_at, window_end) - open_at).total_seconds())
                day += timedelta(days=1)
            utilisation[name] = round(min(booked.get(staff_id, 0.0) / working, 1.0), 3) if working else 0.0
    return DashboardFigures(mondays, counts, rate, utilisation_days, utilisation)
