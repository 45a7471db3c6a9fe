"""Twilio's webhooks, applied: signature, raw event stored once, inbound texts and keywords, status.

The sidecar hands over the raw request; :func:`handle_twilio` answers with a
:class:`WebhookReply` (status, body). Everything it writes for one request commits in
one transaction, so a rejected request leaves nothing but its system event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, parse_qsl

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM
from kaimen_core.config import get_settings
from kaimen_core.messaging import _consent, _delivery, _send, _text
from kaimen_core.models import Business, Conversation, Customer, Message, WebhookEvent, utcnow
from kaimen_core.models.customers import customer_search_text
from kaimen_core.providers.sms import valid_signature

__all__ = ["EMPTY_TWIML", "MAX_BODY_BYTES", "WebhookReply", "handle_twilio"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY_BYTES = 64 * 1024
_REQUIRED = {"/twilio/sms": ("MessageSid", "From", "To"), "/twilio/status": ("MessageSid", "MessageStatus")}


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What the sidecar answers."""

    status: int
    body: str = EMPTY_TWIML
    media_type: str = "text/xml"


def _reject(status: int, reason: str, path: str) -> WebhookReply:
    with db.system_session() as session:
        audit.record(session, actor=SYSTEM, action="webhook.rejected", business_id=None,
                     target_type="twilio", detail={"path": path, "reason": reason, "status": status})
    return WebhookReply(status, reason, "text/plain")


def handle_twilio(*, path: str, query: str, content_type: str | None, body: bytes, signature: str | None,
                  now: datetime | None = None) -> WebhookReply:
    """Verify, store once, apply. ``path`` is /twilio/sms or /twilio/status."""
    settings = get_settings()
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if len(body) > MAX_BODY_BYTES:
        return _reject(400, "body over 64 KB", path)
    if (content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return _reject(400, "body is not form-encoded", path)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        return _reject(400, "body does not parse", path)
    params: dict[str, str] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    if not token or not settings.public_url:
        return WebhookReply(403, "Twilio webhooks are not configured", "text/plain")
    url = settings.public_url + path + (f"?{query}" if query else "")
    if not valid_signature(auth_token=token, url=url, params=params, signature=signature):
        return WebhookReply(403, "invalid signature", "text/plain")
    missing = [name for name in _REQUIRED[path] if not params.get(name)]
    if missing:
        return _reject(400, "missing " + ",".join(missing), path)
    now = now or utcnow()
    if path == "/twilio/sms":
        return receive_text(params, now=now)
    message_id = parse_qs(query).get("m", [None])[0]
    with db.system_session() as session:
        sid, status = params["MessageSid"], params["MessageStatus"]
        message = session.exec(select(Message.business_id).where(Message.provider_sid == sid)).first()
        if not _store_once(session, event_id=f"{sid}:{status}"[:120], kind="sms.status", params=params,
                           business_id=message, now=now):
            return WebhookReply(200)
        _delivery.apply_status(session, sid=sid, status=status, error_code=params.get("ErrorCode") or None,
                               message_id=int(message_id) if message_id and message_id.isdigit() else None,
                               now=now)
    return WebhookReply(200)


def _store_once(session: Session, *, event_id: str, kind: str, params: dict[str, str], business_id: int | None,
                now: datetime) -> bool:
    """Insert the raw event; False when this provider id was stored before (a duplicate delivery)."""
    statement = _insert(session)(WebhookEvent).values(
        provider="twilio", event_id=event_id, business_id=business_id, kind=kind, payload=params,
        status="processed", received_at=now, processed_at=now,
    ).on_conflict_do_nothing(index_elements=["provider", "event_id"]).returning(WebhookEvent.id)
    return session.execute(statement).first() is not None


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    session.execute(statement.on_conflict_do_update(index_elements=["customer_id"],
                                                    set_={"last_message_at": statement.excluded.last_message_at}))


def _media(params: dict[str, str]) -> list[dict[str, str]]:
    count = int(params.get("NumMedia", "0") or 0) if (params.get("NumMedia", "0") or "0").isdigit() else 0
    return [{"url": params[f"MediaUrl{i}"], "content_type": params.get(f"MediaContentType{i}", "")}
            for i in range(min(count, 10)) if params.get(f"MediaUrl{i}")]


def receive_text(params: dict[str, str], *, now: datetime, simulated: bool = False) -> WebhookReply:
    """An inbound text (verified): route by To, find or create the customer by From, apply keywords."""
    with db.system_session() as session:
        receive(session, params, now=now, simulated=simulated)
    return WebhookReply(200)


def receive(session: Session, params: dict[str, str], *, now: datetime, simulated: bool = False) -> Message | None:
    """Store and apply one inbound text in ``session``; None for an unknown To or a duplicate."""
    business = session.exec(select(Business).where(Business.messaging_number == params["To"])).first()
    if business is None:
        audit.record(session, actor=SYSTEM, action="webhook.unknown_number", business_id=None,
                     target_type="twilio", detail={"path": "/twilio/sms"})
        return None
    sid = params["MessageSid"]
    if not _store_once(session, event_id=sid, kind="sms.simulated" if simulated else "sms.inbound",
                       params=params, business_id=business.id, now=now):
        return None
    customer = _customer_for(session, business, params["From"], now)
    message = Message(business_id=business.id, customer_id=customer.id, direction="inbound", kind="manual",
                      body=params.get("Body", ""), media=_media(params), status="received",
                      provider_sid=sid, decision="received", created_at=now, updated_at=now)
    session.add(message)
    session.flush()
    _touch_conversation(session, business.id, customer.id, now)
    if _text.classify_keyword(message.body) or _text.asks_to_stop(message.body):
        _apply_keywords(session, business, customer, message, now)
    return message


def _apply_keywords(session: Session, business: Business, customer: Customer, message: Message,
                    now: datetime) -> None:
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
            from kaimen_core.models import ConsentEvent

            session.add(ConsentEvent(business_id=business.id, customer_id=customer.id, kind="opt_out",
                                     granted=False, method="plain_words", message_id=message.id, occurred_at=now,
                                     detail={"scope": "automated texts paused for review"}))
    session.add(conversation)
    if reply:
        _send.queue_text(session, business=business, customer=customer, body=reply, kind="system", now=now)
