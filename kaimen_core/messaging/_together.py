"""Webhook events applied together: a few set-based statements for a whole batch of the common kinds.

Each step pairs a test (may this event be applied with the others of its kind?) with a
function that applies the chosen events and returns, for each event it applied, the
business it belongs to. Events a step leaves out are applied one by one (``_events``).

- Plain inbound texts (no keyword, no stop request): businesses by ``To``, the sids
  already applied, customers found or created by ``From``, the messages, and each
  conversation moved to its newest text.
- Progress callbacks (queued, sent, delivered, read...; not failures, which may opt a
  customer out): the messages by sid (or by the callback's own message id, linking the
  sid), each moved to the highest status its callbacks reach, never backwards.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from kaimen_core.messaging import _text
from kaimen_core.messaging._checks import QUERY_KEY, signer_of
from kaimen_core.messaging._delivery import STATUS_RANK, STORED_AS
from kaimen_core.messaging._inbound import media_of
from kaimen_core.models import Business, Conversation, Customer, Message, WebhookEvent
from kaimen_core.models.customers import customer_search_text

__all__ = ["STEPS"]


def is_plain_text(event: WebhookEvent) -> bool:
    """An inbound text that only adds a message: no keyword, no stop request, nothing unusual."""
    payload = event.payload or {}
    if event.kind != "sms.inbound" or payload.get("erased") or not all(
            payload.get(name) for name in ("MessageSid", "From", "To")):
        return False
    body = payload.get("Body", "")
    return not _text.classify_keyword(body) and not _text.asks_to_stop(body)


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def apply_plain_texts(session: Session, events: list[WebhookEvent]) -> dict[int, int | None]:
    """Apply plain inbound texts; the business of each event applied (an unknown ``To`` is left out)."""
    numbers = {event.payload["To"] for event in events}
    businesses = dict(session.exec(select(Business.messaging_number, Business.id)
                                   .where(col(Business.messaging_number).in_(numbers))).all())
    # An unknown To, or a signer that is not the number's business, is left to be applied (and refused) alone.
    events = [event for event in events if event.payload["To"] in businesses
              and signer_of(event.payload) in (None, businesses[event.payload["To"]])]
    sids = [event.payload["MessageSid"] for event in events]
    applied_before = set(session.exec(select(Message.provider_sid).where(col(Message.provider_sid).in_(sids))).all())
    owner: dict[int, int | None] = {event.id: businesses[event.payload["To"]] for event in events}
    new = [event for event in events if event.payload["MessageSid"] not in applied_before]
    if new:
        _add_texts(session, new, owner)
    return owner


def _add_texts(session: Session, events: list[WebhookEvent], owner: dict[int, int | None]) -> None:
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


def is_progress_callback(event: WebhookEvent) -> bool:
    """A status callback that can only move a text forward (not a failure, which may opt a customer out)."""
    payload = event.payload or {}
    if event.kind != "sms.status" or payload.get("erased") or not payload.get("MessageSid"):
        return False
    status = STORED_AS.get(payload.get("MessageStatus", ""), payload.get("MessageStatus", ""))
    return status in STATUS_RANK and status not in ("failed", "undelivered")


def apply_progress_callbacks(session: Session, events: list[WebhookEvent]) -> dict[int, int | None]:
    """Move each text to the highest status its callbacks reach; the business of each event (None: unknown text)."""
    def messages(condition):
        query = select(Message.id, Message.provider_sid, Message.status, Message.business_id).where(condition)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return session.exec(query).all()

    found = {sid: [message_id, status, business_id, False]
             for message_id, sid, status, business_id in messages(
                 col(Message.provider_sid).in_({event.payload["MessageSid"] for event in events}))}
    by_id: dict[int, str] = {}
    for event in events:
        message_id = parse_qs(event.payload.get(QUERY_KEY, "")).get("m", [""])[0]
        if event.payload["MessageSid"] not in found and message_id.isdigit():
            by_id.setdefault(int(message_id), event.payload["MessageSid"])
    if by_id:  # a text whose worker never heard back: link the sid by the message's own id
        for message_id, sid, status, business_id in messages(col(Message.id).in_(by_id)):
            if sid is None and by_id[message_id] not in found:
                found[by_id[message_id]] = [message_id, status, business_id, True]
    owner: dict[int, int | None] = {}
    moved: dict[str, list] = {}
    for event in events:
        sid = event.payload["MessageSid"]
        entry = found.get(sid)
        if entry and signer_of(event.payload) not in (None, entry[2]):
            continue  # signed by another business's account: left to be refused alone
        owner[event.id] = entry[2] if entry else None
        status = STORED_AS.get(event.payload["MessageStatus"], event.payload["MessageStatus"])
        if entry and STATUS_RANK[status] > STATUS_RANK.get(entry[1], 0):
            entry[1] = status
            moved[sid] = entry
        elif entry and entry[3]:
            moved[sid] = entry
    if moved:
        session.connection().execute(
            update(Message.__table__).where(Message.__table__.c.id == bindparam("message_id"))
            .values(status=bindparam("new_status"), provider_sid=bindparam("sid"), updated_at=bindparam("at")),
            [{"message_id": entry[0], "new_status": entry[1], "sid": sid, "at": max(
                e.received_at for e in events if e.payload["MessageSid"] == sid)} for sid, entry in moved.items()])
    return owner


#: (may this event go with the others?, apply the chosen ones) in the order they run.
STEPS: tuple[tuple[Callable[[WebhookEvent], bool],
                   Callable[[Session, list[WebhookEvent]], dict[int, int | None]]], ...] = (
    (is_plain_text, apply_plain_texts),
    (is_progress_callback, apply_progress_callbacks),
)
