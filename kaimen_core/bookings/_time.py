"""Time in bookings: the business's zone, UTC instants, local midnights, and how a time is
shown in the business's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Business

__all__ = ["as_utc", "business_zone", "clock", "day_label", "local_midnight"]


def business_zone(session: Session, actor: Actor) -> ZoneInfo:
    """The actor's business's time zone."""
    return ZoneInfo(db.owned(session, Business, actor.business_id, actor=actor).time_zone)


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
