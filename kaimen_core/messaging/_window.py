"""When an automated text may reach a recipient: their local daytime window, and state rules."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

__all__ = ["STRICT_STATES", "next_allowed", "recipient_zones", "state_of", "window_for"]

#: US states whose telemarketing laws narrow the window and cap marketing texts.
STRICT_STATES = {
    "FL": ("239", "305", "321", "324", "352", "386", "407", "448", "561", "645", "656", "689", "727", "728",
           "754", "772", "786", "813", "850", "863", "904", "941", "954"),
    "OK": ("405", "539", "572", "580", "918"),
}
_DEFAULT_WINDOW = (8, 21)
_STRICT_WINDOW = (8, 20)


def state_of(phone: str | None) -> str | None:
    """"FL" or "OK" for a number with one of those states' area codes, else None."""
    if not phone or not phone.startswith("+1") or len(phone) != 12:
        return None
    area = phone[2:5]
    return next((state for state, codes in STRICT_STATES.items() if area in codes), None)


def window_for(phone: str | None) -> tuple[int, int]:
    """The (start hour, end hour) of the recipient's window."""
    return _STRICT_WINDOW if state_of(phone) else _DEFAULT_WINDOW


def _valid_zone(name: str | None) -> str | None:
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def recipient_zones(phone: str | None, customer_zone: str | None, business_zone: str | None) -> list[str]:
    """The zones the recipient may be in: from the number, else the customer's, else the business's.

    A number that maps to several zones keeps them all (the window must hold in each:
    the strictest reading), unless the customer's recorded zone is one of them.
    """
    fallback = _valid_zone(customer_zone) or _valid_zone(business_zone) or "UTC"
    zones: list[str] = []
    if phone:
        try:
            parsed = phonenumbers.parse(phone)
            if phonenumbers.is_valid_number(parsed):
                zones = [z for z in phone_timezone.time_zones_for_number(parsed) if _valid_zone(z)]
        except phonenumbers.NumberParseException:
            zones = []
    if not zones:
        return [fallback]
    if len(zones) > 1 and _valid_zone(customer_zone) in zones:
        return [customer_zone]  # type: ignore[list-item]
    return sorted(set(zones))


def _inside(moment: datetime, zones: list[str], window: tuple[int, int]) -> bool:
    start, end = window
    for zone in zones:
        local = moment.astimezone(ZoneInfo(zone)).time()
        if not (time(start) <= local < time(end)):
            return False
    return True


def next_allowed(now: datetime, zones: list[str], window: tuple[int, int]) -> datetime | None:
    """None when ``now`` is inside the window in every zone; else the first moment it is.

    When the zones share no window at all (a number spread over many zones), the first
    zone's own window start is used, so the text still waits for daytime somewhere sure.
    """
    if _inside(now, zones, window):
        return None
    candidates = []
    for zone in zones:
        local = now.astimezone(ZoneInfo(zone))
        for days in range(0, 3):
            day = (local + timedelta(days=days)).date()
            start = datetime.combine(day, time(window[0]), tzinfo=ZoneInfo(zone))
            if start > now:
                candidates.append(start)
    for candidate in sorted(candidates):
        if _inside(candidate, zones, window):
            return candidate.astimezone(now.tzinfo)
    return next_allowed(now, zones[:1], window)
