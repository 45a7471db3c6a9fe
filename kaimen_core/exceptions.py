"""Every error Kaimen raises on purpose, in one hierarchy.

    KaimenError
    ├── ConfigurationError        a setting is missing or malformed
    ├── DatabaseUnavailable       the database did not answer (down, locked, unreachable)
    ├── ValidationError           input refused; names the field and the reason
    ├── NotFound                  no such row for this actor (also: another tenant's row)
    ├── PermissionDenied          the actor's role may not do this
    ├── Conflict                  the write would break a uniqueness rule
    ├── RateLimited               too many attempts from one network; says when to try again
    └── AuthenticationError       sign-in refused
        ├── InvalidCredentials    unknown user or wrong password (never says which)
        ├── AccountLocked         too many failed attempts; carries the unlock time
        └── SessionInvalid        signed out, expired, revoked, or the business is suspended

Errors are translated only at the edges: ``st.error`` in pages, an HTTP status in
webhooks/, a recorded failure in jobs, an exit code in the command line.
"""

from __future__ import annotations

import math
from datetime import datetime

__all__ = [
    "AccountLocked",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "DatabaseUnavailable",
    "InvalidCredentials",
    "KaimenError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "SessionInvalid",
    "ValidationError",
]


class KaimenError(Exception):
    """Base of every error Kaimen raises deliberately; ``str()`` is safe to show a user."""


class ConfigurationError(KaimenError):
    """A setting is missing or malformed; the message names the setting."""


class DatabaseUnavailable(KaimenError):
    """The database did not answer; nothing was changed and the action can be retried."""


class ValidationError(KaimenError):
    """Input was refused. ``field`` names the offending input, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(KaimenError):
    """No such row is visible to the actor (rows of other businesses are never visible)."""


class PermissionDenied(KaimenError):
    """The actor's role does not allow this action."""


class Conflict(KaimenError):
    """The write would duplicate something that must be unique."""


class RateLimited(KaimenError):
    """Too many sign-ins or new accounts from one network; refused until ``until``."""

    def __init__(self, until: datetime, *, now: datetime) -> None:
        self.until = until
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(
            f"Too many attempts from this network; try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )


class AuthenticationError(KaimenError):
    """Sign-in was refused or a signed-in session is no longer valid."""


class InvalidCredentials(AuthenticationError):
    """Unknown username or wrong password; deliberately does not say which."""

    def __init__(self) -> None:
        super().__init__("Username or password is incorrect.")


class AccountLocked(AuthenticationError):
    """Too many failed sign-ins for this username; refused until ``until``."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            "Too many failed sign-in attempts. Sign-in for this username is locked "
            f"until {until:%H:%M} UTC."
        )


class SessionInvalid(AuthenticationError):
    """The session was signed out, expired or revoked, or its business is suspended."""
