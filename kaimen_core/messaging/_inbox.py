"""The inbox: conversations, threads, replies, marking read, and simulated incoming texts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, or_, select

from kaimen_core import db, webhooks
from kaimen_core.actors import Actor
from kaimen_core.config import get_settings
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.messaging import _send
from kaimen_core.messaging._twilio_webhooks import TWILIO_WEBHOOKS
from kaimen_core.models import Business, Conversation, Customer, Message, WebhookEvent, utcnow
from kaimen_core.validators import clean_phone, clean_search, clean_text

__all__ = [
    "FILTERS",
    "ConversationRow",
    "MessageView",
    "Thread",
    "get_thread",
    "list_conversations",
    "mark_read",
    "resolve_flag",
    "send_text",
    "simulate_incoming",
    "simulation_available",
]

FILTERS = ("unread", "needs_person", "opted_out")


@dataclass(frozen=True, slots=True)
class MessageView:
    """One text as the thread shows it."""

    id: int
    direction: str
    kind: str
    body: str
    media: list[dict[str, Any]]
    status: str
    decision: str | None
    error_code: str | None
    error_message: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """One customer's conversation in the list."""

    customer_id: int
    name: str
    phone: str | None
    last_message_at: datetime
    preview: str
    unread: int
    needs_person: bool
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Thread:
    """A customer's texts, oldest first, and whether (and why not) they can be texted now."""

    customer_id: int
    name: str
    phone: str | None
    messages: list[MessageView]
    can_text: bool
    cannot_text_reason: str | None
    needs_person: bool
    needs_person_reason: str | None


def _view(m: Message) -> MessageView:
    return MessageView(m.id, m.direction, m.kind, m.body, list(m.media or []), m.status, m.decision, m.error_code,
                       m.error_message, m.created_at)


def _staff(actor: Actor) -> None:
    actor.require("owner", "staff")


def list_conversations(session: Session, *, actor: Actor, show: str | None = None, search: str | None = None,
                       limit: int = 100) -> list[ConversationRow]:
    """Newest conversation first, with unread counts; ``show`` is unread, needs_person or opted_out."""
    _staff(actor)
    if show not in (None, "", *FILTERS):
        raise ValidationError(f"Unknown filter {show!r}.", field="show")
    search = clean_search(search)
    b = actor.business_id
    unread = (select(Message.customer_id, func.count().label("n"))
              .where(Message.business_id == b, Message.direction == "inbound", col(Message.read_at).is_(None))
              .group_by(Message.customer_id).subquery())
    query = (select(Conversation, Customer, func.coalesce(unread.c.n, 0))
             .join(Customer, Customer.id == Conversation.customer_id)
             .outerjoin(unread, unread.c.customer_id == Conversation.customer_id)
             .where(Conversation.business_id == b, Customer.business_id == b))
    if show == "unread":
        query = query.where(func.coalesce(unread.c.n, 0) > 0)
    elif show == "needs_person":
        query = query.where(Conversation.needs_person.is_(True))
    elif show == "opted_out":
        query = query.where(col(Customer.opted_out_at).is_not(None))
    if search:
        pattern = db.contains_pattern(search.lower())
        has_text = select(Message.id).where(Message.business_id == b, Message.customer_id == Customer.id,
                                            func.lower(Message.body).like(pattern, escape="\\")).exists()
        query = query.where(or_(func.lower(Customer.name).like(pattern, escape="\\"),
                                col(Customer.phone_e164).like(pattern, escape="\\"), has_text))
    rows = session.exec(query.order_by(col(Conversation.last_message_at).desc()).limit(max(1, min(limit, 500))))
    result = []
    for conversation, customer, count in rows.all():
        last = session.exec(select(Message.body).where(Message.business_id == b, Message.customer_id == customer.id)
                            .order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(1)).first()
        result.append(ConversationRow(customer.id, customer.name, customer.phone_e164,
                                      conversation.last_message_at, (last or "")[:80], int(count),
                                      conversation.needs_person, customer.opted_out_at is not None))
    return result


def get_thread(session: Session, *, actor: Actor, customer_id: int, now: datetime | None = None) -> Thread:
    """The customer's texts and whether a person's reply would be sent now (and why not)."""
    _staff(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    business = db.owned(session, Business, actor.business_id, actor=actor)
    messages = session.exec(select(Message).where(Message.business_id == actor.business_id,
                                                  Message.customer_id == customer.id)
                            .order_by(col(Message.created_at), col(Message.id)).limit(500)).all()
    conversation = session.exec(select(Conversation).where(Conversation.customer_id == customer.id,
                                                           Conversation.business_id == actor.business_id)).first()
    decision = _send.decide(session, business=business, customer=customer, body="x", kind="manual",
                            now=now or utcnow())
    reason = decision.reason.removeprefix("refused: ") if decision.outcome == "refuse" else None
    return Thread(customer.id, customer.name, customer.phone_e164, [_view(m) for m in messages], reason is None,
                  reason, bool(conversation and conversation.needs_person),
                  conversation.needs_person_reason if conversation else None)


def send_text(session: Session, *, actor: Actor, customer_id: int, body: str, kind: str = "manual",
              now: datetime | None = None) -> MessageView:
    """A person sends a text through the one send path; the returned view carries its decision."""
    _staff(actor)
    if kind not in ("manual", "transactional", "marketing"):
        raise ValidationError(f"Unknown kind of text {kind!r}.", field="kind")
    customer = db.owned(session, Customer, customer_id, actor=actor)
    business = db.owned(session, Business, actor.business_id, actor=actor)
    message = _send.queue_text(session, business=business, customer=customer, body=body, kind=kind,
                               sent_by_user_id=actor.user_id, now=now)
    return _view(message)


def mark_read(session: Session, *, actor: Actor, customer_id: int, now: datetime | None = None) -> int:
    """Mark the customer's inbound texts read; returns how many were unread."""
    _staff(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    unread = session.exec(select(Message).where(Message.business_id == actor.business_id,
                                                Message.customer_id == customer.id,
                                                Message.direction == "inbound", col(Message.read_at).is_(None))).all()
    for message in unread:
        message.read_at = now or utcnow()
        session.add(message)
    return len(unread)


def resolve_flag(session: Session, *, actor: Actor, customer_id: int) -> None:
    """A person reviewed a plain-words stop request: clear the flag and let automated texts resume."""
    _staff(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    conversation = _send.conversation_for(session, customer)
    conversation.needs_person, conversation.needs_person_reason = False, None
    conversation.automated_paused_at = None
    session.add(conversation)


def simulation_available() -> bool:
    """Simulated incoming texts are offered only when no Twilio keys are configured."""
    settings = get_settings()
    return not (settings.twilio_account_sid and settings.twilio_auth_token)


def simulate_incoming(session: Session, *, actor: Actor, phone: str, body: str,
                      now: datetime | None = None) -> MessageView:
    """Pretend a customer texted the business (offline mode only), exactly as a webhook would apply it."""
    _staff(actor)
    if not simulation_available():
        raise PermissionDenied("Twilio is configured: real texts arrive through the webhook instead.")
    business = db.owned(session, Business, actor.business_id, actor=actor)
    if not business.messaging_number:
        raise ValidationError("The business has no messaging number.", field="phone")
    number = clean_phone(phone, region=business.region)
    body = clean_text(body, field="body", label="The text", multiline=True)
    if not body:
        raise ValidationError("Write the customer's text first.", field="body")
    sid = "SMsim" + uuid.uuid4().hex[:27]
    now = now or utcnow()
    text = webhooks.VerifiedEvent(event_id=sid, kind="sms.simulated", signer="simulation", business_id=business.id,
                                  received_at=now, payload={"MessageSid": sid, "From": number,
                                                            "To": business.messaging_number,
                                                            "Body": body[:1600], "NumMedia": "0"})
    webhooks.store_events(session, TWILIO_WEBHOOKS.name, [text])
    stored = session.exec(select(WebhookEvent).where(WebhookEvent.provider == TWILIO_WEBHOOKS.name,
                                                     WebhookEvent.event_id == sid)).one()
    (outcome,) = webhooks.apply_events(session, [stored], [TWILIO_WEBHOOKS], now=now).values()
    if outcome.error:
        raise ValidationError(f"The text could not be received: {outcome.error}.", field="body")
    return _view(session.exec(select(Message).where(Message.provider_sid == sid)).one())
