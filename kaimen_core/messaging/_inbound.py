"""Twilio's webhooks: the checks a request must pass, and what a stored event means once applied.

A request is checked by :func:`check_twilio` (size, form encoding, signature, required
fields) without touching the database; the sidecar then stores it (``_ingest``) and
answers. The worker applies stored events later (``_events``) through
:func:`apply_event`: inbound texts (customer found or created by ``From``, the
message, MMS references, STOP/START/HELP and plain-words stop requests) and delivery
status that never moves a message backwards. Applying is idempotent on the MessageSid
(and on sid + status for callbacks), so applying an event twice has one effect.
"""

from __future__ import annotations

import base64
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from hashlib import sha1
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM
from kaimen_core.config import get_settings
from kaimen_core.messaging import _consent, _delivery, _send, _text
from kaimen_core.models import (
    Business,
    ConsentEvent,
    Conversation,
    Customer,
    Message,
    WebhookEvent,
    utcnow,
)
from kaimen_core.models.customers import customer_search_text

__all__ = ["EMPTY_TWIML", "MAX_BODY_BYTES", "TwilioEvent", "WebhookReply", "check_twilio", "valid_signature"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY_BYTES = 64 * 1024
_REQUIRED = {"/twilio/sms": ("MessageSid", "From", "To"), "/twilio/status": ("MessageSid", "MessageStatus")}
_KINDS = {"/twilio/sms": "sms.inbound", "/twilio/status": "sms.status"}
#: The query string of a status callback URL (``m=<message id>``), kept beside Twilio's own parameters.
QUERY_KEY = "_query"


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What the sidecar answers; ``rejected`` names why a 400 is recorded as a system event."""

    status: int
    body: str = EMPTY_TWIML
    media_type: str = "text/xml"
    rejected: str | None = None


@dataclass(frozen=True, slots=True)
class TwilioEvent:
    """A verified Twilio request, ready to be stored once under its provider id."""

    event_id: str
    kind: str
    payload: dict[str, str]
    received_at: datetime


@lru_cache(maxsize=64)
def _signed_urls(url: str) -> tuple[str, ...]:
    """The URL without and with its port, the two forms Twilio's RequestValidator accepts."""
    from twilio.request_validator import add_port, remove_port

    parsed = urlsplit(url)
    return tuple(dict.fromkeys((remove_port(parsed), add_port(parsed))))


def valid_signature(*, token: str, url: str, params: dict[str, str], signature: str | None) -> bool:
    """``twilio.request_validator.RequestValidator.validate`` for a form body, without its per-call overhead.

    HMAC-SHA1 (base64) over the URL and every parameter's name and value in name order,
    accepted for the URL with or without its port; compared in constant time.
    """
    if not signature or not token:
        return False
    signed = "".join(name + params[name] for name in sorted(params))
    key = token.encode("utf-8")
    return any(
        hmac.compare_digest(base64.b64encode(hmac.new(key, (form + signed).encode("utf-8"), sha1).digest()),
                            signature.encode("utf-8", "replace"))
        for form in _signed_urls(url))


def form_fields(text: str) -> dict[str, str]:
    """A form body's fields, the first value of each name; ValueError for a field without ``=``.

    What ``urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True)``
    gives (then first value wins), without decoding fields that hold no ``%`` or ``+``.
    """
    params: dict[str, str] = {}
    if not text:
        return params
    for field in text.split("&"):
        name, equals, value = field.partition("=")
        if not equals:
            raise ValueError("bad form field")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        if name not in params:
            params[name] = value
    return params


def _refuse(reason: str) -> WebhookReply:
    return WebhookReply(400, reason, "text/plain", rejected=reason)


def check_twilio(*, path: str, query: str, content_type: str | None, body: bytes, signature: str | None,
                 now: datetime | None = None) -> TwilioEvent | WebhookReply:
    """The request's checks, in order, without the database: a TwilioEvent, or the reply refusing it.

    Body over 64 KB, not form-encoded or unparsable: 400 (to be recorded). No token or
    public URL configured, or a missing or wrong signature over ``KAIMEN_PUBLIC_URL`` +
    path (+ query) and every POST parameter: 403, nothing recorded. Missing fields: 400.
    """
    if len(body) > MAX_BODY_BYTES:
        return _refuse("body over 64 KB")
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        return _refuse("body is not form-encoded")
    try:
        params = form_fields(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _refuse("body does not parse")
    settings = get_settings()
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not token or not settings.public_url:
        return WebhookReply(403, "Twilio webhooks are not configured", "text/plain")
    url = settings.public_url + path + (f"?{query}" if query else "")
    if not valid_signature(token=token, url=url, params=params, signature=signature):
        return WebhookReply(403, "invalid signature", "text/plain")
    missing = [name for name in _REQUIRED[path] if not params.get(name)]
    if missing:
        return _refuse("missing " + ",".join(missing))
    if path == "/twilio/sms":
        event_id = params["MessageSid"]
    else:
        event_id = f"{params['MessageSid']}:{params['MessageStatus']}"[:120]
        if query:
            params[QUERY_KEY] = query
    return TwilioEvent(event_id=event_id[:120], kind=_KINDS[path], payload=params, received_at=now or utcnow())


def record_rejection(path: str, reply: WebhookReply) -> None:
    """The system event for a refused body: the path, the reason and the status, nothing personal."""
    with db.system_session() as session:
        audit.record(session, actor=SYSTEM, action="webhook.rejected", business_id=None, target_type="twilio",
                     detail={"path": path, "reason": reply.rejected, "status": reply.status})


# --- applying a stored event ------------------------------------------------------------


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
        event.business_id = business.id
        apply_inbound(session, business, payload, now=when, replied_at=now)
        return None
    if event.kind == "sms.status":
        sid, status = payload.get("MessageSid"), payload.get("MessageStatus")
        if not sid or not status:
            return "the event has no MessageSid or MessageStatus"
        message_id = parse_qs(payload.get(QUERY_KEY, "")).get("m", [None])[0]
        _delivery.apply_status(session, sid=sid, status=status, error_code=payload.get("ErrorCode") or None,
                               message_id=int(message_id) if message_id and message_id.isdigit() else None,
                               now=when)
        if event.business_id is None:
            event.business_id = session.exec(select(Message.business_id).where(Message.provider_sid == sid)).first()
        return None
    return f"unknown event kind {event.kind[:40]}"


_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed event, safe to show an operator: no SQL parameters, no numbers."""
    origin = getattr(exc, "orig", None) or exc
    first = (str(origin).strip().splitlines() or [""])[0]
    return _NUMBER.sub("<number>", f"{type(origin).__name__}: {first}")[:300]


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
