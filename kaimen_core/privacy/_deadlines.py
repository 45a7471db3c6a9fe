"""Due dates by regime: GDPR one month (+2 with notice), CCPA 45 days (+45 with notice,
acknowledgement within 10 business days), others 30 days."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

__all__ = ["DUE_SOON", "RETENTION", "acknowledge_by", "add_months", "due_date", "extended_due_date"]

DUE_SOON = timedelta(days=7)
RETENTION = 24  # months a request record is kept


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_date(regime: str, received_at: datetime) -> datetime:
    """When the answer is due, counted from receipt."""
    if regime == "gdpr":
        return add_months(received_at, 1)
    if regime == "ccpa":
        return received_at + timedelta(days=45)
    return received_at + timedelta(days=30)


def extended_due_date(regime: str, due_at: datetime) -> datetime:
    """The latest due date an extension (with a notice to the person) may set."""
    if regime == "gdpr":
        return add_months(due_at, 2)
    if regime == "ccpa":
        return due_at + timedelta(days=45)
    return due_at + timedelta(days=30)


def acknowledge_by(regime: str, received_at: datetime) -> datetime | None:
    """CCPA: acknowledgement within 10 business days (Monday to Friday)."""
    if regime != "ccpa":
        return None
    moment, left = received_at, 10
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment
