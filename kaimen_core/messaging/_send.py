"""The ONE send path: every outbound text is decided here, recorded, and queued as a job.

Order of the rules (the first that applies decides; each leaves its reason on the row):

1. refusals: the business cannot text (messaging disabled, suspended, terminated); the
   customer opted out, is on the suppression list, or is restricted; marketing without
   recorded marketing consent; transactional or automated texts without a relationship
   (transactional consent) or while a person must review a plain-words stop request;
   prohibited content (built-in and operator terms); Florida/Oklahoma marketing cap;
2. holds: automated texts wait for the recipient's window (08:00–21:00 local, 20:00 in
   Florida and Oklahoma); every text waits for the business's per-minute rate and
   rolling-24-hour cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from kaimen_core import jobs
from kaimen_core.messaging import _text, _window
from kaimen_core.models import (
    Business,
    Conversation,
    Customer,
    Message,
    MessagingSettings,
    ScreeningTerm,
    SuppressionEntry,
    utcnow,
)
from kaimen_core.validators import clean_text

__all__ = ["AUTOMATED_KINDS", "Decision"]

#: Kinds that are not a person's direct reply: they wait for the recipient's window.
AUTOMATED_KINDS = ("transactional", "marketing", "automated")
#: Kinds a business may send (``system`` is Kaimen's own keyword replies).
KINDS = ("manual", *AUTOMATED_KINDS, "system")
MAX_BODY = 1600


@dataclass(frozen=True, slots=True)
class Decision:
    """What the send path decided: "send", "hold" (until ``until``) or "refuse", and why."""

    outcome: str
    reason: str
    until: datetime | None = None


def settings_for(session: Session, business_id: int) -> MessagingSettings:
    """The business's messaging settings row (created with defaults on first use)."""
    row = session.exec(select(MessagingSettings).where(MessagingSettings.business_id == business_id)).first()
    if row is None:
        row = MessagingSettings(business_id=business_id)
        session.add(row)
        session.flush()
    return row


def conversation_for(session: Session, customer: Customer) -> Conversation:
    """The customer's conversation row (created on first use)."""
    row = session.exec(
        select(Conversation).where(Conversation.customer_id == customer.id,
                                   Conversation.business_id == customer.business_id)
    ).first()
    if row is None:
        row = Conversation(business_id=customer.business_id, customer_id=customer.id)
        session.add(row)
        session.flush()
    return row


def _business_refusal(business: Business) -> str | None:
    if business.status != "active":
        return f"refused: the business is {business.status}"
    if not business.messaging_enabled:
        return "refused: messaging is disabled for this business"
    if not business.messaging_number:
        return "refused: the business has no messaging number"
    return None


def _count_outbound(session: Session, business_id: int, since: datetime, exclude: int | None, **where) -> int:
    query = select(func.count()).select_from(Message).where(
        Message.business_id == business_id, Message.direction == "outbound",
        col(Message.status).not_in(("refused",)), Message.created_at >= since)
    if exclude is not None:
        query = query.where(Message.id != exclude)
    for name, value in where.items():
        query = query.where(getattr(Message, name) == value)
    return int(session.exec(query).one())


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %H:%M %Z")


def decide(
    session: Session, *, business: Business, customer: Customer, body: str, kind: str, now: datetime,
    message_id: int | None = None, recheck: bool = False,
) -> Decision:
    """Apply every rule, in order.

    ``recheck`` is the worker's check just before sending ``message_id``: every refusal
    and the recipient's window again, but not the rate limit and daily cap, which were
    applied when the text was queued (its place in the queue is its place in the limit).
    """
    refusal = _business_refusal(business)
    if refusal:
        return Decision("refuse", refusal)
    if not customer.phone_e164:
        return Decision("refuse", "refused: the customer has no mobile number")
    suppressed = session.exec(select(SuppressionEntry.id).where(
        SuppressionEntry.business_id == business.id,
        SuppressionEntry.phone_hash == _text.phone_hash(business.id, customer.phone_e164))).first()
    if kind != "system":
        if customer.opted_out_at is not None:
            return Decision("refuse", "refused: the customer opted out (STOP)")
        if suppressed is not None:
            return Decision("refuse", "refused: the number is on the opt-out suppression list")
    if customer.restricted_at is not None:
        return Decision("refuse", "refused: the customer asked to restrict processing of their data")
    if kind == "marketing" and not customer.marketing_consent:
        return Decision("refuse", "refused: no recorded marketing consent")
    if kind in AUTOMATED_KINDS:
        if not customer.transactional_consent:
            return Decision("refuse", "refused: no existing relationship (transactional consent withdrawn)")
        conversation = conversation_for(session, customer)
        if conversation.automated_paused_at is not None:
            return Decision("refuse", "refused: automated texts are paused until a person reviews a stop request")
    terms = dict(session.exec(select(ScreeningTerm.term, ScreeningTerm.reason)).all())
    screened = _text.screen(body, terms)
    if screened:
        return Decision("refuse", f"refused: {screened}")
    state = _window.state_of(customer.phone_e164)
    if kind == "marketing" and state:
        sent = _count_outbound(session, business.id, now - timedelta(hours=24), message_id,
                               customer_id=customer.id, kind="marketing")
        if sent >= 3:
            return Decision("refuse", f"refused: {state} law allows at most 3 marketing texts in 24 hours")
    if kind in AUTOMATED_KINDS:
        zones = _window.recipient_zones(customer.phone_e164, customer.time_zone, business.time_zone)
        window = _window.window_for(customer.phone_e164)
        until = _window.next_allowed(now, zones, window)
        if until is not None:
            rule = f"{window[0]:02d}:00–{window[1]:02d}:00" + (f" ({state} law)" if state else "")
            return Decision("hold", f"held until {_local(until, zones[0])}: outside the recipient's "
                                    f"window {rule}", until)
    if recheck:
        return Decision("send", "accepted: queued to send")
    limits = settings_for(session, business.id)
    if _count_outbound(session, business.id, now - timedelta(minutes=1), message_id) >= limits.rate_per_minute:
        until = now + timedelta(minutes=1)
        return Decision("hold", f"held for a minute: rate limit of {limits.rate_per_minute} a minute", until)
    day_ago = now - timedelta(hours=24)
    if _count_outbound(session, business.id, day_ago, message_id) >= limits.daily_cap:
        oldest = session.exec(
            select(func.min(Message.created_at)).where(
                Message.business_id == business.id, Message.direction == "outbound",
                col(Message.status).not_in(("refused",)), Message.created_at >= day_ago)
        ).one()
        until = (oldest or now) + timedelta(hours=24, seconds=1)
        return Decision("hold", f"held until {_local(until, business.time_zone)}: daily cap of "
                                f"{limits.daily_cap} texts", until)
    return Decision("send", "accepted: queued to send")


def queue_text(
    session: Session, *, business: Business, customer: Customer, body: str, kind: str,
    sent_by_user_id: int | None = None, now: datetime | None = None,
) -> Message:
    """Decide, record the message with its decision, and queue a send job unless refused."""
    from kaimen_core.exceptions import ValidationError

    now = now or utcnow()
    body = clean_text(body, field="body", label="A text", multiline=True)
    if not body:
        raise ValidationError("Write a message first.", field="body")
    if len(body) > MAX_BODY:
        raise ValidationError(f"A text can be at most {MAX_BODY} characters.", field="body")
    if kind not in KINDS:
        raise ValidationError(f"Unknown kind of text {kind!r}.", field="kind")
    decision = decide(session, business=business, customer=customer, body=body, kind=kind, now=now)
    status = {"send": "queued", "hold": "held", "refuse": "refused"}[decision.outcome]
    message = Message(business_id=business.id, customer_id=customer.id, direction="outbound", kind=kind,
                      body=body, status=status, decision=decision.reason[:300], sent_by_user_id=sent_by_user_id,
                      read_at=now, created_at=now, updated_at=now)
    session.add(message)
    session.flush()
    if decision.outcome != "refuse":
        jobs.enqueue(session, kind="send_message", business_id=business.id,
                     payload={"message_id": message.id}, run_at=decision.until or now)
    conversation = conversation_for(session, customer)
    if conversation.last_message_at < now:  # a reply to an older text applied late never moves it back
        conversation.last_message_at = now
    session.add(conversation)
    return message
