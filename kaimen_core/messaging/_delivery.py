"""Delivering a queued text (the worker's send job).

Crash safety: before calling the provider the message is marked ``sending`` and that is
committed. A run that finds a message already ``sending`` (its worker died after the
provider may have accepted the text) first asks the provider whether a text with this
message's number, sender and body was accepted since the attempt began, and adopts it
instead of sending again. The status callback URL carries the message's own id
(``?m=<id>``), so a callback for a text the worker never heard back about also links it.
A business with its own Twilio account sends (and is asked) through that account;
every other business through the worker's provider. ``STATUS_RANK``, ``STORED_AS`` and
``_fail`` (21610 opts the customer out) serve Twilio's status callbacks too (``_status_callbacks``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from kaimen_core import db
from kaimen_core.config import get_settings
from kaimen_core.messaging import _consent, _send
from kaimen_core.messaging._accounts import own_account
from kaimen_core.models import Business, Customer, Job, Message, utcnow
from kaimen_core.providers.sms import SmsError, SmsProvider, account_provider

__all__ = ["STATUS_RANK", "RetryLater"]

#: How far along a text is; a status never replaces one of higher rank.
STATUS_RANK = {"held": 0, "queued": 1, "accepted": 1, "scheduled": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "read": 4, "canceled": 4}
#: Twilio's statuses that Kaimen stores under another name.
STORED_AS = {"accepted": "queued", "scheduled": "queued", "read": "delivered", "canceled": "failed"}
OPTED_OUT_CODE = "21610"


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


def _done(session: Session, job_id: int | None) -> None:
    """Mark the send job done in the same transaction that records the outcome."""
    if job_id is not None:
        job = session.get(Job, job_id)
        if job is not None:
            job.status, job.locked_at, job.locked_by, job.updated_at = "done", None, None, utcnow()
            session.add(job)


def deliver(message_id: int, *, provider: SmsProvider, now: datetime | None = None, last_attempt: bool = False,
            job_id: int | None = None, engine=None) -> str:
    """Run one send job; returns what happened. Raises RetryLater for a failure worth retrying.

    Every outcome but a retry also marks the job (``job_id``) done, in the same transaction.
    """
    now = now or utcnow()
    with db.system_session(engine=engine) as session:
        message = session.get(Message, message_id)
        if message is None or message.status not in ("queued", "held", "sending"):
            _done(session, job_id)
            return "nothing to do"
        business = session.get(Business, message.business_id)
        customer = session.get(Customer, message.customer_id) if message.customer_id else None
        if customer is None or business is None:
            message.status, message.decision = "refused", "refused: the customer no longer exists"
            session.add(message)
            _done(session, job_id)
            return "refused"
        own = own_account(session, business.id)
        if own is not None and own.auth_token is None:
            _fail(session, message, None, "the business's Twilio auth token cannot be read: enter it again on "
                  "the Messaging page", now)
            _done(session, job_id)
            return "failed"
        if own is not None:
            provider = account_provider(own.account_sid, own.auth_token)
        if message.status == "sending":
            found = provider.find_sent(to=customer.phone_e164 or "", from_=business.messaging_number or "",
                                       body=message.body, since=message.updated_at)
            if found is not None:
                message.provider_sid = message.provider_sid or found.sid
                message.status = STORED_AS.get(found.status, found.status) if found.status in STATUS_RANK else "sent"
                message.updated_at = now
                session.add(message)
                _done(session, job_id)
                return "reconciled"
        decision = _send.decide(session, business=business, customer=customer, body=message.body,
                                kind=message.kind, now=now, message_id=message.id, recheck=True)
        if decision.outcome == "refuse":
            message.status, message.decision, message.updated_at = "refused", decision.reason[:300], now
            session.add(message)
            _done(session, job_id)
            return "refused"
        if decision.outcome == "hold":
            message.status, message.decision, message.updated_at = "held", decision.reason[:300], now
            session.add(message)
            from kaimen_core import jobs

            jobs.enqueue(session, kind="send_message", business_id=business.id,
                         payload={"message_id": message.id}, run_at=decision.until)
            _done(session, job_id)
            return "held"
        message.status, message.updated_at = "sending", now
        session.add(message)
        # The job stays running: a crash from here on leaves it to be claimed again after its lease.
        to, from_, body = customer.phone_e164 or "", business.messaging_number or "", message.body
    try:
        result = provider.send(to=to, from_=from_, body=body, status_callback=_callback_url(message_id))
    except SmsError as exc:
        with db.system_session(engine=engine) as session:
            message = session.get(Message, message_id)
            retry = exc.retryable and not last_attempt
            if retry:  # the provider did not accept it: sending again cannot duplicate it
                message.status, message.error_code = "sending" if exc.ambiguous else "queued", exc.code
                message.error_message, message.updated_at = f"retrying: {exc}"[:300], utcnow()
                session.add(message)
            else:
                _fail(session, message, exc.code, str(exc), utcnow())
                _done(session, job_id)
        if retry:  # raised after the commit above, so the message's state is kept
            raise RetryLater(str(exc)) from None
        return "failed"
    with db.system_session(engine=engine) as session:
        # Locked, so a delivery callback applied meanwhile is read (and kept), not overwritten.
        message = session.get(Message, message_id, with_for_update=True)
        message.provider_sid = message.provider_sid or result.sid
        status = STORED_AS.get(result.status, result.status)
        if STATUS_RANK.get(status, 0) > STATUS_RANK.get(message.status, 0):
            message.status = status
        if message.status == "sending":
            message.status = "sent"  # the provider accepted it; callbacks move it on
        message.error_code = message.error_message = None
        message.decision, message.updated_at = "sent", utcnow()
        session.add(message)
        _done(session, job_id)
    return "sent"

