"""Stored webhook events as a queue: the worker applies them in batches.

``webhook_events`` is the queue itself: the sidecar inserts an event ``received``;
:func:`apply_pending_webhooks` takes the oldest received events, applies them and marks
each ``applied`` (or ``failed`` with the reason), all in ONE transaction. On PostgreSQL
the events are taken ``FOR UPDATE SKIP LOCKED``, so any number of appliers (worker
processes) run side by side and never take the same event; on SQLite ``BEGIN
IMMEDIATE`` serialises them. A crash before the commit leaves the events ``received``
to be applied again; applying is idempotent on the provider's id, so a replay is
harmless.

The common kinds (plain inbound texts, progress callbacks: nearly all events) are
applied together, a few set-based statements per batch (``_together``). Every other
event (STOP, START, HELP, plain-words stop requests, failure callbacks, replays of
simulated texts, unknown numbers) is applied one by one in id order through
``_inbound.apply_event``, inside a savepoint: an event that fails is rolled back alone,
recorded ``failed`` with a reason safe to show, and the rest of the batch goes on.
Should a set-based step fail, its events are applied one by one instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.logs import failure_reason
from kaimen_core.messaging import _together
from kaimen_core.messaging._inbound import apply_event
from kaimen_core.models import WebhookEvent, utcnow

__all__ = ["apply_pending_webhooks"]

log = logging.getLogger(__name__)


def apply_pending_webhooks(*, limit: int = 200, now: datetime | None = None, engine: Engine | None = None) -> int:
    """Apply up to ``limit`` received events, oldest first, in one transaction; returns how many were taken."""
    now = now or utcnow()
    with db.system_session(engine=engine) as session:
        query = (select(WebhookEvent).where(WebhookEvent.status == "received")
                 .order_by(col(WebhookEvent.id)).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        events = list(session.exec(query).all())
        left = events
        one_by_one: list[WebhookEvent] = []
        for chooses, apply_together in _together.STEPS:
            chosen = [event for event in left if chooses(event)]
            left = [event for event in left if not chooses(event)]
            if chosen:
                one_by_one += _apply_together(session, chosen, apply_together, now)
        for event in sorted(one_by_one + left, key=lambda e: e.id):
            _apply_alone(session, event, now)
        return len(events)


def _apply_together(session: Session, events: list[WebhookEvent], apply_together, now: datetime) -> list[WebhookEvent]:
    """One set-based step in a savepoint; returns the events it left (all of them should it fail)."""
    try:
        with session.begin_nested():
            owner = apply_together(session, events)
            _mark_applied(session, [event for event in events if event.id in owner], owner, now)
    except OperationalError:
        raise  # the database itself (a deadlock, a lost connection): the whole batch runs again
    except Exception as exc:  # logged as failure_reason words it: a driver's message can quote row values
        log.warning("applying %d %s events together failed (%s); applying them one by one", len(events),
                    events[0].kind, failure_reason(exc))
        return events
    return [event for event in events if event.id not in owner]


def _mark_applied(session: Session, events: list[WebhookEvent], owner: dict[int, int | None], now: datetime) -> None:
    """Mark events applied with their business: one UPDATE per business, not one per event."""
    by_business: dict[int | None, list[int]] = {}
    for event in events:
        by_business.setdefault(owner[event.id] or event.business_id, []).append(event.id)
    for business_id, ids in by_business.items():
        session.execute(update(WebhookEvent).where(col(WebhookEvent.id).in_(ids))
                        .values(status="applied", business_id=business_id, error=None, processed_at=now)
                        .execution_options(synchronize_session=False))
    for event in events:  # the rows are written; keep the loaded objects in step without another UPDATE
        for name, value in (("status", "applied"), ("business_id", owner[event.id] or event.business_id),
                            ("error", None), ("processed_at", now)):
            set_committed_value(event, name, value)


def _apply_alone(session: Session, event: WebhookEvent, now: datetime) -> None:
    try:
        with session.begin_nested():
            problem = apply_event(session, event, now=now)
    except OperationalError:
        raise
    except Exception as exc:  # this event's own failure: recorded, the queue goes on
        problem = failure_reason(exc)
        log.warning("webhook event %s (%s) failed: %s", event.id, event.kind, problem)
    event.status = "failed" if problem else "applied"
    event.error = problem
    event.processed_at = now


