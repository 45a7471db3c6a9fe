"""Logging that never prints personal data unmasked.

Wrap anything personal in :class:`Masked` (or use the ``mask_*`` helpers) before it
reaches a log call: ``log.info("texted %s", Masked.phone(number))``.
"""

from __future__ import annotations

import logging
import re
import traceback

__all__ = ["Masked", "configure_logging", "failure_reason", "failure_report", "mask_email", "mask_name",
           "mask_phone"]

_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failure, safe to log or show an operator: no SQL parameters, no numbers.

    A driver's message can quote the row it refused (SQLAlchemy appends the statement's
    parameters), so only the first line of the underlying error is kept, numbers masked.
    """
    origin = getattr(exc, "orig", None) or exc
    first = (str(origin).strip().splitlines() or [""])[0]
    return _NUMBER.sub("<number>", f"{type(origin).__name__}: {first}")[:300]


def failure_report(exc: BaseException) -> str:
    """An unexpected failure for the server's log: :func:`failure_reason` for it and for
    each error that led to it, and where each was raised (file, line, function).

    No exception's message is printed in full: a database error's message quotes the
    statement's parameters (names, phone numbers, message text), so the traceback is
    rebuilt from its frames only, without their source lines (a line can hold a value).
    """
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
                  for frame in traceback.extract_tb(current.__traceback__)]
        parts.append("\n".join([failure_reason(current), *frames]))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return "\n  which came from\n".join(parts)


def mask_phone(value: str | None) -> str:
    """+15555550100 -> +1******0100 (the length is kept)"""
    if not value:
        return ""
    keep = 4 if len(value) > 6 else 1
    prefix = value[:2] if value.startswith("+") else ""
    return prefix + "*" * max(len(value) - len(prefix) - keep, 1) + value[-keep:]


def mask_email(value: str | None) -> str:
    """dana@example.com -> d***@e***.com"""
    if not value or "@" not in value:
        return "***" if value else ""
    local, _, domain = value.partition("@")
    host, _, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(host or domain)[:1]}***" + (f".{tld}" if host else "")


def mask_name(value: str | None) -> str:
    """Dana Owner -> D*** O***"""
    return " ".join(f"{part[:1]}***" for part in (value or "").split())


class Masked:
    """A value that prints masked; the original never reaches the log record's text."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    @classmethod
    def phone(cls, value: str | None) -> Masked:
        return cls(mask_phone(value))

    @classmethod
    def email(cls, value: str | None) -> Masked:
        return cls(mask_email(value))

    @classmethod
    def name(cls, value: str | None) -> Masked:
        return cls(mask_name(value))

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def configure_logging(level: str = "INFO") -> None:
    """One plain format for every Kaimen process."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
