"""Logging that never prints personal data unmasked.

Wrap anything personal in :class:`Masked` (or use the ``mask_*`` helpers) before it
reaches a log call: ``log.info("texted %s", Masked.phone(number))``.
"""

from __future__ import annotations

import logging
import re

__all__ = ["Masked", "configure_logging", "failure_reason", "mask_email", "mask_name", "mask_phone"]

_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failure, safe to log or show an operator: no SQL parameters, no numbers.

    A driver's message can quote the row it refused (SQLAlchemy appends the statement's
    parameters), so only the first line of the underlying error is kept, numbers masked.
    """
    origin = getattr(exc, "orig", None) or exc
    first = (str(origin).strip().splitlines() or [""])[0]
    return _NUMBER.sub("<number>", f"{type(origin).__name__}: {first}")[:300]


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
