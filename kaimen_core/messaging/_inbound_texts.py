"""Inbound texts applied: one function for one text or a batch, keywords included.

:func:`apply_inbound_texts` is Twilio's applier for ``sms.inbound`` (and the Inbox's
``sms.simulated``) events. For a batch it finds the businesses by ``To``, refuses the
events of an unknown number (``webhook.unknown_number``) or signed by another business's
account (``webhook.wrong_account``), skips texts whose MessageSid is already a message,
then adds the rest with a few set-based statements: customers found or created by
``From``, the messages (MMS kept as ``{url, content_type}`` references), each
conversation moved to its newest text. Last, in the order they arrived, the texts that
are keywords or stop requests take effect: STOP opts the customer out and queues ONE
confirmation, START opts back in, HELP answers with the business's contact, and a
plain-words stop request pauses automated texts and flags the conversation for a person.
Applying is idempotent on the MessageSid: a text applied before changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from kaimen_core import audit
from kaimen_core.actors import SYSTEM
from kaimen_core.messaging import _consent, _send, _text
from kaimen_core.messaging._twilio_verifier import signer_business
from kaimen_core.models import Business, ConsentEvent, Conversation, Customer, Message, WebhookEvent
from kaimen_core.models.customers import customer_search_text
from kaimen_core.webhooks import Outcome

__all__ = ["UNKNOWN_NUMBER", "WRONG_ACCOUNT", "apply_inbound_texts", "media_of", "refuse_wrong_account"]

UNKNOWN_NUMBER = "no business has the To number"
WRONG_ACCOUNT = "signed with another business's Twilio account"
_REQUIRED = ("MessageSid", "From", "To")


def apply_inbound_texts(session: Session, events: list[WebhookEvent], *, now: datetime) -> dict[int, Outcome]:
    """Apply inbound texts in ``session``; the outcome of each by event id. Keyword replies are queued ``now``.

    Each text happened at its event's ``received_at`` (the message, consent changes).
    """
    outcomes: dict[int, Outcome] = {}
    texts: list[WebhookEvent] = []
    for event in events:
        payload = event.payload or {}
        missing = [name for name in _REQUIRED if not payload.get(name)]
        if payload.get("erased"):  # emptied by a privacy erasure: nothing left to apply
            outcomes[event.id] = Outcome()
        elif missing:
            outcomes[event.id] = Outcome(error="the event has no " + ", ".join(missing))
        else:
            texts.append(event)
    numbers = {event.payload["To"] for event in texts}
    businesses = {business.messaging_number: business for business in session.exec(
        select(Business).where(col(Business.messaging_number).in_(numbers))).all()} if numbers else {}
    accepted: list[tuple[WebhookEvent, Business]] = []
    for event in texts:
        business = businesses.get(event.payload["To"])
        if business is None:
            audit.record(session, actor=SYSTEM, action="webhook.unknown_number", business_id=None,
                         target_type="twilio", target_id=event.id, detail={"path": "/twilio/sms"})
            outcomes[event.id] = Outcome(error=UNKNOWN_NUMBER)
        elif signer_business(event.signer) not in (None, business.id):
            outcomes[event.id] = refuse_wrong_account(session, event, "/twilio/sms")
        else:
            outcomes[event.id] = Outcome(business.id)
            accepted.append((event, business))
    sids = [event.payload["MessageSid"] for event, _ in accepted]
    seen = set(session.exec(select(Message.provider_sid).where(col(Message.provider_sid).in_(sids))).all()
               ) if sids else set()
    new: list[tuple[WebhookEvent, Business]] = []
    for event, business in accepted:
        if event.payload["MessageSid"] not in seen:  # applied before, or twice in this batch: one message
            seen.add(event.payload["MessageSid"])
            new.append((event, business))
    if new:
        _add_texts(session, new)
        for event, business in sorted(new, key=lambda pair: pair[0].id):
            body = event.payload.get("Body", "")
            if _text.classify_keyword(body) or _text.asks_to_stop(body):
                _apply_keyword(session, business, event, now)
    return outcomes


def refuse_wrong_account(session: Session, event: WebhookEvent, path: str) -> Outcome:
    """An event signed by one business's own account for another business's number or text: refused, audited."""
    audit.record(session, actor=SYSTEM, action="webhook.wrong_account", business_id=None, target_type="twilio",
                 target_id=event.id, detail={"path": path, "signer_business_id": signer_business(event.signer)})
    return Outcome(error=WRONG_ACCOUNT)


def media_of(params: dict[str, Any]) -> list[dict[str, str]]:
    """An MMS's media as ``{url, content_type}`` references (at most ten), as Twilio lists them."""
    raw = str(params.get("NumMedia", "0") or "0")
    count = int(raw) if raw.isdigit() else 0
    return [{"url": params[f"MediaUrl{i}"], "content_type": params.get(f"MediaContentType{i}", "")}
            for i in range(min(count, 10)) if params.get(f"MediaUrl{i}")]


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _add_texts(session: Session, texts: list[tuple[WebhookEvent, Business]]) -> None:
    """Customers found or created, the messages, and each conversation moved to its newest text."""
    first_seen: dict[tuple[int, str], datetime] = {}
    for event, business in texts:
        key = (business.id, event.payload["From"])
        first_seen[key] = min(first_seen.get(key, event.received_at), event.received_at)
    customers = _customers_for(session, first_seen)
    session.connection().execute(_insert(session)(Message.__table__), [
        {"business_id": business.id, "customer_id": customers[(business.id, event.payload["From"])],
         "direction": "inbound", "kind": "manual", "body": event.payload.get("Body", ""),
         "media": media_of(event.payload), "status": "received", "decision": "received",
         "provider_sid": event.payload["MessageSid"], "error_code": None, "error_message": None,
         "sent_by_user_id": None, "read_at": None, "created_at": event.received_at, "updated_at": event.received_at}
        for event, business in texts])
    latest: dict[int, tuple[int, datetime]] = {}
    for event, business in texts:
        customer_id = customers[(business.id, event.payload["From"])]
        if customer_id not in latest or latest[customer_id][1] < event.received_at:
            latest[customer_id] = (business.id, event.received_at)
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


def _apply_keyword(session: Session, business: Business, event: WebhookEvent, replied_at: datetime) -> None:
    """A keyword or stop request takes effect at the text's own time; a reply is queued at ``replied_at``."""
    message = session.exec(select(Message).where(Message.provider_sid == event.payload["MessageSid"])).one()
    customer = session.get(Customer, message.customer_id)
    keyword, now = _text.classify_keyword(message.body), event.received_at
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
