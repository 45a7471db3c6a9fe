"""Apply, the third stage: the worker takes received events and hands each provider's to its appliers.

``webhook_events`` is the worker's queue. :func:`apply_received_events` takes the oldest
``received`` events (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so any number of workers
run side by side and never take the same event; SQLite serialises them with ``BEGIN
IMMEDIATE``), applies them and marks each ``applied`` or ``failed`` with a reason safe to
show, all in ONE transaction: a crash before the commit leaves them ``received`` for the
next round. Applying is idempotent on the provider's ids, so a replay is harmless.

:func:`apply_events` groups the events by applier, in the order they arrived, and gives
each applier its events as one batch inside a savepoint. Should the batch raise, the
same applier is given the events one at a time, each in its own savepoint, so a bad event
fails alone and the rest are applied. A database failure (a deadlock, a lost connection)
is not an event's fault: it is raised, and the whole batch runs again later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.logs import failure_reason
from kaimen_core.models import WebhookEvent, utcnow
from kaimen_core.webhooks._provider import Applier, Outcome, Provider

__all__ = ["apply_events", "apply_received_events"]

log = logging.getLogger(__name__)


def apply_received_events(providers: Sequence[Provider], *, limit: int = 200, now: datetime | None = None,
                          engine: Engine | None = None) -> int:
    """Apply up to ``limit`` received events, oldest first, in one transaction; returns how many were taken."""
    with db.system_session(engine=engine) as session:
        query = (select(WebhookEvent).where(WebhookEvent.status == "received")
                 .order_by(col(WebhookEvent.id)).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = list(session.exec(query).all())
        apply_events(session, events, providers, now=now)
        return len(events)


def apply_events(session: Session, events: Sequence[WebhookEvent], providers: Sequence[Provider], *,
                 now: datetime | None = None) -> dict[int, Outcome]:
    """Apply stored events in ``session`` and mark each applied or failed; the outcome of each, by event id."""
    now = now or utcnow()
    appliers = {(provider.name, kind): applier for provider in providers for kind, applier in provider.appliers.items()}
    batches: dict[Applier, list[WebhookEvent]] = {}
    outcomes: dict[int, Outcome] = {}
    for event in events:
        applier = appliers.get((event.provider, event.kind))
        if applier is None:
            outcomes[event.id] = Outcome(error=f"no applier for {event.provider[:16]} events of kind {event.kind[:40]}")
        else:
            batches.setdefault(applier, []).append(event)
    for applier, batch in batches.items():
        outcomes.update(_apply(session, applier, batch, now))
    _mark(session, events, outcomes, now)
    return outcomes


def _apply(session: Session, applier: Applier, events: list[WebhookEvent], now: datetime) -> dict[int, Outcome]:
    """The batch in a savepoint; should it raise, each event on its own."""
    try:
        with session.begin_nested():
            outcomes = applier(session, events, now=now)
    except OperationalError:
        raise
    except Exception as exc:  # failure_reason words it: a driver's message can quote row values
        reason = failure_reason(exc)
        if len(events) == 1:
            log.warning("webhook event %s (%s) failed: %s", events[0].id, events[0].kind, reason)
            return {events[0].id: Outcome(error=reason)}
        log.warning("applying %d %s events together failed (%s); applying them one by one", len(events),
                    events[0].kind, reason)
        outcomes = {}
        for event in events:
            outcomes.update(_apply(session, applier, [event], now))
        return outcomes
    return {event.id: outcomes.get(event.id) or Outcome(error="the applier gave no outcome") for event in events}


def _mark(session: Session, events: Sequence[WebhookEvent], outcomes: dict[int, Outcome], now: datetime) -> None:
    """Applied events in one UPDATE per business; failed ones each with its reason."""
    applied: dict[int | None, list[int]] = {}
    for event in events:
        outcome = outcomes[event.id]
        business_id = outcome.business_id if outcome.business_id is not None else event.business_id
        if outcome.error is None:
            applied.setdefault(business_id, []).append(event.id)
        else:
            session.execute(update(WebhookEvent).where(col(WebhookEvent.id) == event.id).values(
                status="failed", business_id=business_id, error=outcome.error[:1000], processed_at=now))
    for business_id, ids in applied.items():
        session.execute(update(WebhookEvent).where(col(WebhookEvent.id).in_(ids)).values(
            status="applied", business_id=business_id, error=None, processed_at=now))
