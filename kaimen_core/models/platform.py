"""The rows no business owns, table by table: what they hold, and which of them concern a business.

Every other row belongs to one business (its ``business_id``; a business's own row in
``businesses``). The rows here are the platform's: whole tables without a business, and
the rows of a table whose ``business_id`` is NULL. Each entry says what they hold, and
whether some of them can hold a business's customers' data: ``of_business`` then picks
those rows for a business, and they are the only platform rows a feature working for a
business may read (the erasure's verification reads them, and only them). A table
added without a ``business_id``, or with one that may be NULL, must be declared here
(tests/core/test_models.py fails until it is), so it cannot become readable across
businesses by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement

from kaimen_core.models.webhooks import unrouted_events_of

__all__ = ["PLATFORM_ROWS", "PlatformRows"]


@dataclass(frozen=True, slots=True)
class PlatformRows:
    """What a table's platform rows hold; ``of_business``, if they can hold a business's customers' data,
    picks the ones that concern a business (a condition on the table, for a business id)."""

    holds: str
    of_business: Callable[[int], ColumnElement[bool]] | None = None


#: Table name -> its platform rows (the whole table when it has no ``business_id``).
PLATFORM_ROWS: dict[str, PlatformRows] = {
    "alembic_version": PlatformRows("the schema's version"),
    "audit_events": PlatformRows("the platform's own events (refused and unrouted webhooks, operators' platform "
                                 "work): ids, counts and the actor's address, never a customer's data"),
    "jobs": PlatformRows("the worker's platform-wide sweeps (reminders, search index, retention), without payload"),
    "login_attempts": PlatformRows("every sign-in attempt: a hash of the username typed, the outcome and the IP "
                                   "address it came from; never a customer's data"),
    "network_attempts": PlatformRows("sign-in and sign-up attempts counted per network for the rate limit: an HMAC "
                                     "of the network and the action, never an address or a customer's data"),
    "screening_terms": PlatformRows("the terms operators forbid in texts, with the reason senders are shown"),
    "user_sessions": PlatformRows("the operators' sign-ins, with their IP addresses and browsers"),
    "users": PlatformRows("the operators' accounts"),
    "webhook_events": PlatformRows("provider events not routed to a business: a text or a delivery status waiting "
                                   "to be applied, refused, or for a text Kaimen does not know; it can hold a "
                                   "customer's number and words", of_business=unrouted_events_of),
}
