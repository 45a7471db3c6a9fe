"""What the bookings modules share: the actor's business and zone, scoped look-ups, and
how a time is shown in the business's zone.

``load_staff`` and ``load_service`` are internal (not in ``__all__``): public functions
call them, and the tenant-isolation recipes exercise them through those functions.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, ValidationError
from kaimen_core.models import Business, Service, StaffMember

__all__ = [
    "MANAGE_ROLES",
    "VIEW_ROLES",
    "as_utc",
    "business_zone",
    "clock",
    "day_label",
    "local_midnight",
]

#: Owners set up services, staff and hours; owners and staff manage bookings.
MANAGE_ROLES = ("owner",)
VIEW_ROLES = ("owner", "staff")


def business_zone(session: Session, actor: Actor) -> ZoneInfo:
    """The actor's business's time zone."""
    zone = session.exec(select(Business.time_zone).where(Business.id == actor.business_id)).first()
    if zone is None:
        raise NotFound("No such business.")
    return ZoneInfo(zone)


def load_staff(session: Session, actor: Actor, staff_id: int) -> StaffMember:
    """A staff member of the actor's business, or NotFound (also for another business's id)."""
    member = session.exec(
        select(StaffMember).where(StaffMember.id == staff_id, StaffMember.business_id == actor.business_id)
    ).first()
    if member is None:
        raise NotFound("No such staff member.")
    return member


def load_service(session: Session, actor: Actor, service_id: int) -> Service:
    """A service of the actor's business, or NotFound."""
    service = session.exec(
        select(Service).where(Service.id == service_id, Service.business_id == actor.business_id)
    ).first()
    if service is None:
        raise NotFound("No such service.")
    return service


def as_utc(moment: datetime, *, field: str = "start_at") -> datetime:
    """A timezone-aware datetime in UTC; a naive one is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError("Times must carry a time zone.", field=field)
    return moment.astimezone(UTC)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC (a day may be 23 or 25 hours long)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """``10:00`` in the business's zone."""
    return moment.astimezone(zone).strftime("%H:%M")


def day_label(moment: datetime, zone: ZoneInfo) -> str:
    """``Tue 3 Mar`` in the business's zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}"

