"""Stored webhook events as a queue: the worker applies them in batches.

``webhook_events`` is the queue itself: the sidecar inserts an event ``received``;
:func:`apply_pending_webhooks` takes the oldest received events, applies them and marks
each ``applied`` (or ``failed`` with the reason), all in ONE transaction. On PostgreSQL
the events are taken ``FOR UPDATE SKIP LOCKED``, so any number of appliers (worker
processes) run side by side and never take the same event; on SQLite ``BEGIN
IMMEDIATE`` serialises them. A crash before the commit leaves the events ``received``
to be applied again; applying is idempotent on the provider's id, so a replay is
harmless.

Plain inbound texts (no keyword, no stop request: nearly all of them) are applied
together with a handful of set-based statements per batch (businesses, already-applied
sids, customers found or created, messages, conversations). Every other event (STOP,
START, HELP, plain-words stop requests, status callbacks, replays of simulated texts,
unknown numbers) is applied one by one in id order through ``_inbound.apply_event``,
inside a savepoint: an event that fails is rolled back alone, recorded ``failed`` with a
reason safe to show, and the rest of the batch goes on. Should the set-based step fail,
its events are applied one by one instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.messaging import _text
from kaimen_core.messaging._inbound import apply_event, failure_reason, media_of
from kaimen_core.models import Business, Conversation, Customer, Message, WebhookEvent, utcnow
from kaimen_core.models.customers import customer_search_text

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
        plain = [event for event in events if _is_plain_text(event)]
        one_by_one = [event for event in events if not _is_plain_text(event)]
        if plain:
            try:
                with session.begin_nested():
                    one_by_one += _apply_plain_texts(session, plain, now)
            except OperationalError:
                raise  # the database itself (a deadlock, a lost connection): the whole batch runs again
            except Exception:
                log.exception("applying %d plain texts together failed; applying them one by one", len(plain))
                one_by_one += [event for event in plain if event.status == "received"]
        for event in sorted(one_by_one, key=lambda e: e.id):
            _apply_alone(session, event, now)
        return len(events)


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


def _is_plain_text(event: WebhookEvent) -> bool:
    """An inbound text that only adds a message: no keyword, no stop request, nothing unusual."""
    payload = event.payload or {}
    if event.kind != "sms.inbound" or payload.get("erased") or not all(
            payload.get(name) for name in ("MessageSid", "From", "To")):
        return False
    body = payload.get("Body", "")
    return not _text.classify_keyword(body) and not _text.asks_to_stop(body)


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _apply_plain_texts(session: Session, events: list[WebhookEvent], now: datetime) -> list[WebhookEvent]:
    """Apply plain inbound texts with a few statements; returns the events left for one-by-one handling."""
    numbers = {event.payload["To"] for event in events}
    businesses = dict(session.exec(select(Business.messaging_number, Business.id)
                                   .where(col(Business.messaging_number).in_(numbers))).all())
    leftovers = [event for event in events if event.payload["To"] not in businesses]
    events = [event for event in events if event.payload["To"] in businesses]
    sids = [event.payload["MessageSid"] for event in events]
    applied_before = set(session.exec(select(Message.provider_sid).where(col(Message.provider_sid).in_(sids))).all())
    owner = {event.id: businesses[event.payload["To"]] for event in events}
    new = [event for event in events if event.payload["MessageSid"] not in applied_before]
    if new:
        _add_texts(session, new, owner)
    by_business: dict[int, list[int]] = {}
    for event in events:
        by_business.setdefault(owner[event.id], []).append(event.id)
    for business_id, ids in by_business.items():  # one UPDATE per business, not one per event
        session.execute(update(WebhookEvent).where(col(WebhookEvent.id).in_(ids))
                        .values(status="applied", business_id=business_id, error=None, processed_at=now)
                        .execution_options(synchronize_session=False))
    for event in events:  # the rows are written; keep the loaded objects in step without another UPDATE
        for name, value in (("status", "applied"), ("business_id", owner[event.id]), ("error", None),
                            ("processed_at", now)):
            set_committed_value(event, name, value)
    return leftovers


def _add_texts(session: Session, events: list[WebhookEvent], owner: dict[int, int]) -> None:
    """Customers found or created, the messages, and each conversation moved to its newest text."""
    customers = _customers_for(session, {(owner[event.id], event.payload["From"]): event.received_at
                                         for event in events})
    session.connection().execute(_insert(session)(Message.__table__), [
        {"business_id": owner[event.id], "customer_id": customers[(owner[event.id], event.payload["From"])],
         "direction": "inbound", "kind": "manual", "body": event.payload.get("Body", ""),
         "media": media_of(event.payload), "status": "received", "decision": "received",
         "provider_sid": event.payload["MessageSid"], "error_code": None, "error_message": None,
         "sent_by_user_id": None, "read_at": None, "created_at": event.received_at, "updated_at": event.received_at}
        for event in events])
    latest: dict[int, tuple[int, datetime]] = {}
    for event in events:
        key = customers[(owner[event.id], event.payload["From"])]
        if key not in latest or latest[key][1] < event.received_at:
            latest[key] = (owner[event.id], event.received_at)
    statement = _insert(session)(Conversation.__table__)
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=["customer_id"], set_={"last_message_at": statement.excluded.last_message_at},
        where=Conversation.__table__.c.last_message_at < statement.excluded.last_message_at,
    ), [{"business_id": business_id, "customer_id": customer_id, "needs_person": False,
         "needs_person_reason": None, "automated_paused_at": None, "opt_out_confirmed_at": None,
         "last_message_at": when} for customer_id, (business_id, when) in sorted(latest.items())])


def _customers_for(session: Session, first_seen: dict[tuple[int, str], datetime]) -> dict[tuple[int, str], int]:
    """Customer ids by (business, number), creating the missing ones (race-safe, no savepoint)."""
    def existing() -> dict[tuple[int, str], int]:
        rows = session.exec(select(Customer.business_id, Customer.phone_e164, Customer.id).where(
            col(Customer.business_id).in_({business for business, _ in first_seen}),
            col(Customer.phone_e164).in_({phone for _, phone in first_seen}))).all()
        return {(business, phone): customer for business, phone, customer in rows if (business, phone) in first_seen}

    found = existing()
    missing = [key for key in first_seen if key not in found]
    if missing:
        session.connection().execute(
            _insert(session)(Customer.__table__).on_conflict_do_nothing(index_elements=["business_id", "phone_e164"]),
            [{"business_id": business, "name": phone, "phone_e164": phone, "email": None, "notes": None, "tags": [],
              "preferred_language": None, "time_zone": None, "transactional_consent": True,
              "marketing_consent": False, "opted_out_at": None, "restricted_at": None,
              "marketing_consent_method": None, "marketing_consent_at": None,
              "search_text": customer_search_text(phone, None, phone, []),
              "created_at": first_seen[(business, phone)], "updated_at": first_seen[(business, phone)]}
             for business, phone in missing])
        found = existing()
    return found
