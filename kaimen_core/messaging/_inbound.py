"""Twilio's webhooks: what a stored event means once applied.

The sidecar checks a request (``_checks``), stores it (``_ingest``) and answers. The
worker applies stored events later (``_events``): the common kinds together
(``_together``), the rest one by one through :func:`apply_event`. Inbound texts: the
customer found or created by ``From``, the message, MMS references, STOP/START/HELP and
plain-words stop requests; delivery status never moves a message backwards. Applying is
idempotent on the MessageSid (and on sid + status for callbacks), so applying an event
twice has one effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from kaimen_core import audit
from kaimen_core.actors import SYSTEM
from kaimen_core.messaging import _consent, _delivery, _send, _text
from kaimen_core.messaging._checks import QUERY_KEY, signer_of
from kaimen_core.models import (
    Business,
    ConsentEvent,
    Conversation,
    Customer,
    Message,
    WebhookEvent,
)
from kaimen_core.models.customers import customer_search_text

__all__ = []


def apply_event(session: Session, event: WebhookEvent, *, now: datetime | None = None) -> str | None:
    """Apply one stored Twilio event in ``session``; None when applied, else why it cannot be.

    The event happened at its ``received_at`` (the message, consent changes); a keyword
    reply is written ``now``, when it is queued.

    Idempotent: a text whose MessageSid already has a message, or a status a message has
    already passed, changes nothing. Raises on an unexpected failure (the caller records it).
    """
    payload: dict[str, Any] = event.payload or {}
    if payload.get("erased"):  # emptied by a privacy erasure: nothing left to apply
        return None
    when = event.received_at
    if event.kind in ("sms.inbound", "sms.simulated"):
        business = _business_for(session, payload.get("To"))
        if business is None:
            audit.record(session, actor=SYSTEM, action="webhook.unknown_number", business_id=None,
                         target_type="twilio", target_id=event.id, detail={"path": "/twilio/sms"})
            return "no business has the To number"
        if signer_of(payload) not in (None, business.id):
            return _wrong_account(session, event, "/twilio/sms")
        event.business_id = business.id
        apply_inbound(session, business, payload, now=when, replied_at=now)
        return None
    if event.kind == "sms.status":
        sid, status = payload.get("MessageSid"), payload.get("MessageStatus")
        if not sid or not status:
            return "the event has no MessageSid or MessageStatus"
        message_id = parse_qs(payload.get(QUERY_KEY, "")).get("m", [None])[0]
        outcome = _delivery.apply_status(
            session, sid=sid, status=status, error_code=payload.get("ErrorCode") or None,
            message_id=int(message_id) if message_id and message_id.isdigit() else None, now=when,
            signer=signer_of(payload))
        if outcome == "wrong account":
            return _wrong_account(session, event, "/twilio/status")
        if event.business_id is None:
            event.business_id = session.exec(select(Message.business_id).where(Message.provider_sid == sid)).first()
        return None
    return f"unknown event kind {event.kind[:40]}"


WRONG_ACCOUNT = "signed with another business's Twilio account"


def _wrong_account(session: Session, event: WebhookEvent, path: str) -> str:
    """An event signed by one business's own account for another business's number or text: refused."""
    audit.record(session, actor=SYSTEM, action="webhook.wrong_account", business_id=None, target_type="twilio",
                 target_id=event.id, detail={"path": path, "signer_business_id": signer_of(event.payload or {})})
    return WRONG_ACCOUNT


def _business_for(session: Session, number: str | None) -> Business | None:
    if not number:
        return None
    return session.exec(select(Business).where(Business.messaging_number == number)).first()


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def receive(session: Session, params: dict[str, str], *, now: datetime, simulated: bool = False) -> Message | None:
    """Store and apply one inbound text in ``session`` at once (the Inbox's simulation); None for an unknown To."""
    business = _business_for(session, params.get("To"))
    if business is None:
        return None
    inserted = session.execute(_insert(session)(WebhookEvent).values(
        provider="twilio", event_id=params["MessageSid"], business_id=business.id,
        kind="sms.simulated" if simulated else "sms.inbound", payload=params, status="applied",
        received_at=now, processed_at=now,
    ).on_conflict_do_nothing(index_elements=["provider", "event_id"]).returning(WebhookEvent.id)).first()
    if inserted is None:
        return None
    return apply_inbound(session, business, params, now=now)


def _customer_for(session: Session, business: Business, phone: str, now: datetime) -> Customer:
    """The business's customer with this number, created on their first text (race-safe, no savepoint)."""
    query = select(Customer).where(Customer.business_id == business.id, Customer.phone_e164 == phone)
    found = session.exec(query).first()
    if found is not None:
        return found
    session.execute(
        _insert(session)(Customer).values(business_id=business.id, name=phone, phone_e164=phone, tags=[],
                                          search_text=customer_search_text(phone, None, phone, []),
                                          created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["business_id", "phone_e164"]))
    return session.exec(query).one()


def _touch_conversation(session: Session, business_id: int, customer_id: int, now: datetime) -> None:
    """Create the conversation or move it to the top, in one statement."""
    statement = _insert(session)(Conversation).values(
        business_id=business_id, customer_id=customer_id, needs_person=False, last_message_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=["customer_id"], set_={"last_message_at": statement.excluded.last_message_at},
        where=Conversation.last_message_at < statement.excluded.last_message_at))


def media_of(params: dict[str, str]) -> list[dict[str, str]]:
    count = int(params.get("NumMedia", "0") or 0) if (params.get("NumMedia", "0") or "0").isdigit() else 0
    return [{"url": params[f"MediaUrl{i}"], "content_type": params.get(f"MediaContentType{i}", "")}
            for i in range(min(count, 10)) if params.get(f"MediaUrl{i}")]


def apply_inbound(session: Session, business: Business, params: dict[str, str], *, now: datetime,
                  replied_at: datetime | None = None) -> Message | None:
    """One inbound text for ``business``: customer, message, conversation, keywords; None if applied before.

    ``now`` is when the text arrived; a keyword reply is queued at ``replied_at`` (default: ``now``).
    """
    sid = params["MessageSid"]
    if session.exec(select(Message.id).where(Message.provider_sid == sid)).first() is not None:
        return None
    customer = _customer_for(session, business, params["From"], now)
    message = Message(business_id=business.id, customer_id=customer.id, direction="inbound", kind="manual",
                      body=params.get("Body", ""), media=media_of(params), status="received",
                      provider_sid=sid, decision="received", created_at=now, updated_at=now)
    session.add(message)
    session.flush()
    _touch_conversation(session, business.id, customer.id, now)
    if _text.classify_keyword(message.body) or _text.asks_to_stop(message.body):
        _apply_keywords(session, business, customer, message, now, replied_at or now)
    return message


def _apply_keywords(session: Session, business: Business, customer: Customer, message: Message,
                    now: datetime, replied_at: datetime) -> None:
    keyword = _text.classify_keyword(message.body)
    conversation = _send.conversation_for(session, customer)
    reply = None
    if keyword == "opt_out":
        if _consent.opt_out(session, customer=customer, method="keyword", wording=message.body.strip()[:40],
                            message_id=message.id, now=now) and conversation.opt_out_confirmed_at is None:
            conversation.opt_out_confirmed_at = now
            reply = (f"{business.name}: you are unsubscribed and will get no more texts. "
                     "Reply START to resubscribe.")
    elif keyword == "opt_in":
        if _consent.opt_in(session, customer=customer, wording=message.body.strip()[:40], message_id=message.id,
                           now=now):
            conversation.opt_out_confirmed_at = None
            reply = f"{business.name}: you are resubscribed. Reply STOP to opt out, HELP for help."
    elif keyword == "help":
        contact = business.phone or business.messaging_number or ""
        reply = (f"{business.name}: for help call {contact}. Reply STOP to opt out. "
                 "Msg & data rates may apply.")
    elif _text.asks_to_stop(message.body):
        conversation.needs_person = True
        conversation.needs_person_reason = "asked to stop in their own words"
        if conversation.automated_paused_at is None:
            conversation.automated_paused_at = now
            session.add(ConsentEvent(business_id=business.id, customer_id=customer.id, kind="opt_out",
                                     granted=False, method="plain_words", message_id=message.id, occurred_at=now,
                                     detail={"scope": "automated texts paused for review"}))
    session.add(conversation)
    if reply:
        _send.queue_text(session, business=business, customer=customer, body=reply, kind="system", now=replied_at)
