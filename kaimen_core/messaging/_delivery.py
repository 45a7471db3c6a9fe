"""Delivering a queued text (the worker's send job).

:func:`deliver` runs in stages: *load* the message, its business and customer, and the
provider to use (a business with its own Twilio account sends, and is asked, through
that account; every other business through the worker's provider); *reconcile* a
message left ``sending``; *decide* again through the send path (refuse, hold, or send);
*send*; *record* the provider's answer. Every outcome but a retry ends in
:func:`_settle`, which writes it on the message and marks the job done in the same
transaction.

Crash safety: before calling the provider the message is marked ``sending`` and that is
committed. A run that finds a message already ``sending`` (its worker died after the
provider may have accepted the text) first asks the provider whether a text with this
message's number, sender and body was accepted since the attempt began, and adopts it
instead of sending again. The status callback URL carries the message's own id
(``?m=<id>``), so a callback for a text the worker never heard back about also links it.
``STATUS_RANK``, ``STORED_AS`` and ``_fail`` (21610 opts the customer out) serve Twilio's status
callbacks too (``_status_callbacks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from kaimen_core import db, jobs
from kaimen_core.config import get_settings
from kaimen_core.messaging import _consent, _send
from kaimen_core.messaging._accounts import own_account
from kaimen_core.models import Business, Customer, Job, Message, utcnow
from kaimen_core.providers.sms import SendResult, SmsError, SmsProvider, account_provider

__all__ = ["STATUS_RANK", "RetryLater", "deliver"]

#: How far along a text is; a status never replaces one of higher rank.
STATUS_RANK = {"held": 0, "queued": 1, "accepted": 1, "scheduled": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "read": 4, "canceled": 4}
#: Twilio's statuses that Kaimen stores under another name.
STORED_AS = {"accepted": "queued", "scheduled": "queued", "read": "delivered", "canceled": "failed"}
OPTED_OUT_CODE = "21610"
#: The statuses of a message its send job still has to deliver.
_TO_DELIVER = ("queued", "held", "sending")


class RetryLater(Exception):
    """The send failed for a reason worth retrying; the job backs off and runs again."""


def _callback_url(message_id: int) -> str | None:
    base = get_settings().public_url
    return f"{base}/twilio/status?m={message_id}" if base else None


def _fail(session: Session, message: Message, code: str | None, reason: str, now: datetime) -> None:
    message.status, message.error_code, message.error_message = "failed", code, reason[:300]
    message.updated_at = now
    session.add(message)
    if code == OPTED_OUT_CODE and message.customer_id:
        customer = session.get(Customer, message.customer_id)
        if customer is not None:
            _consent.opt_out(session, customer=customer, method="carrier", wording="Twilio 21610",
                             message_id=message.id, now=now)


def _settle(session: Session, message: Message | None, job_id: int | None, now: datetime, *,
            status: str | None = None, decision: str | None = None, sid: str | None = None,
            failure: tuple[str | None, str] | None = None) -> None:
    """The one way a send job ends, in the caller's transaction: the outcome on the message
    (its ``status`` and ``decision``, the provider's ``sid`` unless it has one, an earlier
    attempt's error cleared; or a ``failure``'s code and reason through ``_fail``, where a
    carrier's 21610 opts the customer out) with the time, and the job (``job_id``) done."""
    if message is not None:
        if failure is not None:
            _fail(session, message, *failure, now)
        else:
            message.error_code = message.error_message = None
        message.provider_sid = message.provider_sid or sid
        message.status = status or message.status
        message.decision = decision[:300] if decision else message.decision
        message.updated_at = now
        session.add(message)
    job = session.get(Job, job_id) if job_id is not None else None
    if job is not None:
        job.status, job.locked_at, job.locked_by, job.updated_at = "done", None, None, utcnow()
        session.add(job)


@dataclass(frozen=True, slots=True)
class _Delivery:
    """A message to deliver, who it is between, and the provider that sends it."""

    message: Message
    business: Business
    customer: Customer
    provider: SmsProvider


def _load(session: Session, message_id: int, provider: SmsProvider, job_id: int | None,
          now: datetime) -> _Delivery | str:
    """The delivery to make, or the outcome (settled) when there is none to make."""
    message = session.get(Message, message_id)
    if message is None or message.status not in _TO_DELIVER:
        _settle(session, None, job_id, now)
        return "nothing to do"
    business = session.get(Business, message.business_id)
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    if customer is None or business is None:
        _settle(session, message, job_id, now, status="refused", decision="refused: the customer no longer exists")
        return "refused"
    own = own_account(session, business.id)
    if own is not None and own.auth_token is None:
        _settle(session, message, job_id, now, failure=(None, "the business's Twilio auth token cannot be read: "
                                                               "enter it again on the Messaging page"))
        return "failed"
    if own is not None:
        provider = account_provider(own.account_sid, own.auth_token)
    return _Delivery(message, business, customer, provider)


def _reconcile(session: Session, delivery: _Delivery, job_id: int | None, now: datetime) -> str | None:
    """A message left ``sending`` by a worker that died: the text the provider accepted
    since the attempt began is adopted (settled), rather than sent again; None to go on."""
    message = delivery.message
    if message.status != "sending":
        return None
    found = delivery.provider.find_sent(to=delivery.customer.phone_e164 or "",
                                        from_=delivery.business.messaging_number or "", body=message.body,
                                        since=message.updated_at)
    if found is None:
        return None
    status = STORED_AS.get(found.status, found.status) if found.status in STATUS_RANK else "sent"
    _settle(session, message, job_id, now, status=status, sid=found.sid)
    return "reconciled"


def _decide(session: Session, delivery: _Delivery, job_id: int | None, now: datetime) -> str | None:
    """The send path's rules, applied again now: a refusal, or a hold (its job queued for
    when it may go), is settled; None to send."""
    message, business = delivery.message, delivery.business
    decision = _send.decide(session, business=business, customer=delivery.customer, body=message.body,
                            kind=message.kind, now=now, message_id=message.id, recheck=True)
    if decision.outcome == "refuse":
        _settle(session, message, job_id, now, status="refused", decision=decision.reason)
        return "refused"
    if decision.outcome == "hold":
        jobs.enqueue(session, kind="send_message", business_id=business.id, payload={"message_id": message.id},
                     run_at=decision.until)
        _settle(session, message, job_id, now, status="held", decision=decision.reason)
        return "held"
    return None


def _record_failure(message_id: int, exc: SmsError, last_attempt: bool, job_id: int | None,
                    engine) -> str:
    """The provider refused or did not answer: kept for a retry (RetryLater, raised after
    the commit so the message's state is kept) when worth it, else settled as failed."""
    retry = exc.retryable and not last_attempt
    with db.system_session(engine=engine) as session:
        message = session.get(Message, message_id)
        if retry:  # the provider did not accept it: sending again cannot duplicate it
            message.status, message.error_code = "sending" if exc.ambiguous else "queued", exc.code
            message.error_message, message.updated_at = f"retrying: {exc}"[:300], utcnow()
            session.add(message)
        else:
            _settle(session, message, job_id, utcnow(), failure=(exc.code, str(exc)))
    if retry:
        raise RetryLater(str(exc)) from None
    return "failed"


def _record_sent(message_id: int, result: SendResult, job_id: int | None, engine) -> str:
    """The provider accepted the text: its id and status, settled (never below a status
    a callback applied meanwhile)."""
    with db.system_session(engine=engine) as session:
        # Locked, so a delivery callback applied meanwhile is read (and kept), not overwritten.
        message = session.get(Message, message_id, with_for_update=True)
        status = STORED_AS.get(result.status, result.status)
        if STATUS_RANK.get(status, 0) <= STATUS_RANK.get(message.status, 0):
            status = message.status
        _settle(session, message, job_id, utcnow(), status="sent" if status == "sending" else status,
                decision="sent", sid=result.sid)  # "sent": the provider accepted it; callbacks move it on
    return "sent"


def deliver(message_id: int, *, provider: SmsProvider, now: datetime | None = None, last_attempt: bool = False,
            job_id: int | None = None, engine=None) -> str:
    """Run one send job: load, reconcile, decide, send, record; returns what happened.

    Raises RetryLater for a failure worth retrying. Every other outcome also marks the
    job (``job_id``) done, in the transaction that records it.
    """
    now = now or utcnow()
    with db.system_session(engine=engine) as session:
        delivery = _load(session, message_id, provider, job_id, now)
        if isinstance(delivery, str):
            return delivery
        settled = _reconcile(session, delivery, job_id, now) or _decide(session, delivery, job_id, now)
        if settled:
            return settled
        message, provider = delivery.message, delivery.provider
        message.status, message.updated_at = "sending", now
        session.add(message)
        # Committed before the provider call; the job stays running: a crash from here on
        # leaves it to be claimed again after its lease, and the next run reconciles.
        to, from_ = delivery.customer.phone_e164 or "", delivery.business.messaging_number or ""
        body = message.body
    try:
        result = provider.send(to=to, from_=from_, body=body, status_callback=_callback_url(message_id))
    except SmsError as exc:
        return _record_failure(message_id, exc, last_attempt, job_id, engine)
    return _record_sent(message_id, result, job_id, engine)

