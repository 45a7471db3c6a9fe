"""Checks for what people type: each returns the clean value or raises ValidationError."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers

from kaimen_core.exceptions import ValidationError

__all__ = [
    "MAX_SEARCH",
    "MIN_PASSWORD_LENGTH",
    "clean_email",
    "clean_id",
    "clean_language",
    "clean_name",
    "clean_notes",
    "clean_password",
    "clean_phone",
    "clean_region",
    "clean_search",
    "clean_tags",
    "clean_text",
    "clean_time_zone",
    "clean_username",
    "has_control_characters",
    "region_choices",
    "slugify",
    "time_zone_choices",
]

MIN_PASSWORD_LENGTH = 12
_BCRYPT_MAX_BYTES = 72
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}$")
_MAX_LANGUAGE = 16  # the longest tag stored
# Unicode's control characters (category Cc, fixed by its stability policy): U+0000-U+001F
# and U+007F-U+009F. One regex search instead of a category lookup per character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_NOTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, CR, LF allowed
_TAG_SEPARATORS = re.compile(r"[;,]")
MAX_SEARCH = 200
_MAX_ID = 2**63 - 1  # the largest id a database row can have


def clean_text(value: str | None, *, field: str, label: str, max_length: int | None = None,
               multiline: bool = False) -> str:
    """Text a person typed, trimmed ('' when nothing was typed).

    Control characters are refused, NUL among them (PostgreSQL cannot store it and a
    driver error is no message for a person): all of them in a one-line field, all but
    tab, carriage return and line feed when ``multiline``.
    """
    text = (value or "").strip()
    if max_length is not None and len(text) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters.", field=field)
    if (_CONTROL_IN_NOTES if multiline else _CONTROL).search(text):
        raise ValidationError(f"{label} must not contain control characters.", field=field)
    return text


def clean_search(value: str | None, *, field: str = "search", label: str = "Search") -> str:
    """What someone typed into a search or filter box, trimmed ('' for nothing): one line,
    at most :data:`MAX_SEARCH` characters, no control characters."""
    return clean_text(value, field=field, label=label, max_length=MAX_SEARCH)


def clean_id(value: str | None, *, field: str, label: str) -> int | None:
    """An id typed into a box (None when nothing was typed): ASCII digits that fit a row's id.

    ``str.isdigit`` is not enough: ``int("²")`` fails, and a number past 64 bits makes the
    database driver fail instead of saying what is wrong.
    """
    text = (value or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_ID:
        raise ValidationError(f"{label} must be a number.", field=field)
    return int(text)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (NUL, escape, a line break, ...)."""
    return _CONTROL.search(text) is not None


def clean_name(value: str | None, *, field: str, label: str, max_length: int = 100) -> str:
    """A required human-readable name, trimmed, with control characters refused."""
    text = clean_text(value, field=field, label=label, max_length=max_length)
    if not text:
        raise ValidationError(f"{label} is required.", field=field)
    return text


def clean_notes(value: str | None, *, max_length: int) -> str | None:
    """Free text up to ``max_length`` characters (tabs and line breaks allowed), or None."""
    return clean_text(value, field="notes", label="Notes", max_length=max_length, multiline=True) or None


def clean_tags(value: list[str] | str | None, *, most: int, longest: int) -> list[str]:
    """At most ``most`` tags from a list or from text separated by commas or semicolons;
    trimmed, each at most ``longest`` characters, unique whatever their case."""
    parts = _TAG_SEPARATORS.split(value) if isinstance(value, str) else list(value or [])
    tags: list[str] = []
    for part in parts:
        tag = " ".join(str(part).split())
        if not tag or tag.lower() in (t.lower() for t in tags):
            continue
        if len(tag) > longest:
            raise ValidationError(f"A tag must be at most {longest} characters.", field="tags")
        if has_control_characters(tag):
            raise ValidationError("Tags must not contain control characters.", field="tags")
        tags.append(tag)
    if len(tags) > most:
        raise ValidationError(f"A customer can have at most {most} tags.", field="tags")
    return tags


def clean_language(value: str | None) -> str | None:
    """A language tag such as en, es or pt-br (lower case), or None."""
    text = (value or "").strip().lower().replace("_", "-")
    if not text:
        return None
    if len(text) > _MAX_LANGUAGE or not _LANGUAGE.match(text):
        raise ValidationError(f"{value!r} is not a language code (e.g. en, es, pt-br).", field="preferred_language")
    return text


def clean_username(value: str | None) -> str:
    """3–32 characters: lower-case letters, digits, dot, underscore, hyphen."""
    text = (value or "").strip().lower()
    if not text:
        raise ValidationError("Username is required.", field="username")
    if not _USERNAME.match(text):
        raise ValidationError(
            "Username must be 3–32 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            field="username",
        )
    return text


def clean_email(value: str | None, *, required: bool = True) -> str | None:
    """An email address in lower case."""
    text = clean_text(value, field="email", label="Email").lower()
    if not text:
        if required:
            raise ValidationError("Email is required.", field="email")
        return None
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValidationError(f"{text!r} is not a valid email address.", field="email")
    return text


def clean_password(value: str | None, *, confirm: str | None = None) -> str:
    """At least 12 characters, at most 72 bytes (bcrypt's limit), no control characters (no
    keyboard types them, and sign-in refuses them), matching its confirmation."""
    password = value or ""
    if not password.strip():
        raise ValidationError("Password is required.", field="password")
    if has_control_characters(password):
        raise ValidationError("Password must not contain control characters.", field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password.encode()) > _BCRYPT_MAX_BYTES:
        raise ValidationError("Password must be at most 72 bytes long.", field="password")
    if confirm is not None and confirm != password:
        raise ValidationError("The two passwords do not match.", field="confirm_password")
    return password


def clean_region(value: str | None) -> str:
    """An ISO 3166 country code that phone numbers can be read in."""
    region = (value or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not a known country code.", field="region")
    return region


def clean_phone(value: str | None, *, region: str, field: str = "phone", required: bool = True) -> str | None:
    """A phone number in any common format, returned in E.164 (read in ``region``)."""
    text = clean_text(value, field=field, label="Phone number")
    if not text:
        if required:
            raise ValidationError("Phone number is required.", field=field)
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"{text!r} is not a phone number.", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{text!r} is not a valid phone number for {region}; include the country code "
            "(+44 ...) for numbers from other countries.",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_time_zone(value: str | None) -> str:
    """An IANA time zone name such as Europe/London."""
    name = (value or "").strip()
    if not name or name not in _known_zones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/London).", field="time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known time zone.", field="time_zone") from None
    return name


def time_zone_choices() -> list[str]:
    """Every IANA zone with a region (no bare abbreviations), sorted."""
    return sorted(zone for zone in _known_zones() if "/" in zone and not zone.startswith("Etc/"))


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the whole time zone database on disk (about 7 ms) on
    # every call; the set does not change while the process runs.
    return frozenset(available_timezones())


def slugify(text: str) -> str:
    """A URL-safe lower-case slug of ``text`` (may be empty)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:50]


def region_choices() -> list[str]:
    """Every country code whose phone numbers can be read, sorted."""
    return sorted(phonenumbers.SUPPORTED_REGIONS)
