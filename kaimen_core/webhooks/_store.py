"""Store, the second stage: the raw event once under ``(provider, event_id, signer)``, as ``received``.

The sidecar stores each verified request on its own, one ``INSERT ... ON CONFLICT DO
NOTHING`` and one commit through the process's engine (:func:`store_event`), and answers
only once that commit is done: a delivery the provider was told is stored is never lost,
and a duplicate delivery is dropped by the database's unique key. As each request is its
own transaction, no request's content can affect another request's fate.
``docs/webhooks.md`` has the measurements behind storing one request at a time.

What the database cannot hold is replaced rather than refused: a NUL character (which
PostgreSQL's text and jsonb refuse) or a lone surrogate in any key or value of the event
becomes U+FFFD, so a text holding one is stored and shown like any other. The signature
was checked on the raw body before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.models import WebhookEvent, utcnow
from kaimen_core.webhooks._provider import VerifiedEvent

__all__ = ["storable", "store_event", "store_events"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_KEY = ["provider", "event_id", "signer"]


def storable(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def store_events(session: Session, provider: str, events: Sequence[VerifiedEvent]) -> None:
    """Insert events as ``received`` in ``session`` (one statement); an event already stored is skipped."""
    if not events:
        return
    now = utcnow()
    rows = [{"provider": provider, "event_id": storable(event.event_id)[:120], "signer": storable(event.signer)[:40],
             "business_id": event.business_id, "kind": storable(event.kind)[:60], "payload": storable(event.payload),
             "status": "received", "received_at": event.received_at or now} for event in events]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.connection().execute(insert(WebhookEvent.__table__).on_conflict_do_nothing(index_elements=_KEY), rows)


def store_event(provider: str, event: VerifiedEvent, *, engine: Engine | None = None) -> None:
    """Store one event in a transaction of its own and commit (the sidecar's request path, on a thread)."""
    with db.system_session(engine=engine) as session:
        store_events(session, provider, [event])
