"""Twilio's status callbacks applied: one function for one callback or a batch.

:func:`apply_status_callbacks` is Twilio's applier for ``sms.status`` events. It reads
(and on PostgreSQL locks) the batch's texts by MessageSid in one query, and in one more
the texts the worker never heard back about, by the message id the callback URL carries
(``?m=<id>``), linking the sid to them. Then each callback, in the order they arrived,
moves its text forward, never backwards (``STATUS_RANK``: held < queued < sending <
sent < delivered/undelivered/failed); a failure records Twilio's error code, and 21610
(the recipient replied STOP to the carrier) opts the customer out. A callback signed by
one business's own account for another business's text is refused
(``webhook.wrong_account``); one for a text Kaimen does not know is applied as nothing.
The texts that moved are written together when the session flushes.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs

from sqlmodel import Session, col, select

from kaimen_core.messaging import _delivery
from kaimen_core.messaging._inbound_texts import refuse_wrong_account
from kaimen_core.messaging._twilio_verifier import QUERY_KEY, signer_business
from kaimen_core.models import Message, WebhookEvent
from kaimen_core.webhooks import Outcome

__all__ = ["apply_status_callbacks"]


def _message_id(event: WebhookEvent) -> int | None:
    """The message id the callback URL carried (``m=<id>``), if any."""
    value = parse_qs(str((event.payload or {}).get(QUERY_KEY, ""))).get("m", [""])[0]
    return int(value) if value.isdigit() else None


def apply_status_callbacks(session: Session, events: list[WebhookEvent], *, now: datetime) -> dict[int, Outcome]:
    """Apply status callbacks in ``session``; the outcome of each by event id.

    Each callback happened at its event's ``received_at``; ``now`` (when the batch is
    applied) is not needed by a callback.
    """
    outcomes: dict[int, Outcome] = {}
    callbacks: list[WebhookEvent] = []
    for event in events:
        payload = event.payload or {}
        if payload.get("erased"):
            outcomes[event.id] = Outcome()
        elif not payload.get("MessageSid") or not payload.get("MessageStatus"):
            outcomes[event.id] = Outcome(error="the event has no MessageSid or MessageStatus")
        else:
            callbacks.append(event)
    if not callbacks:
        return outcomes
    sids = {event.payload["MessageSid"] for event in callbacks}
    by_sid = {message.provider_sid: message for message in _locked(session, col(Message.provider_sid).in_(sids))}
    unlinked = {_message_id(event) for event in callbacks if event.payload["MessageSid"] not in by_sid} - {None}
    by_id = {message.id: message for message in _locked(session, col(Message.id).in_(unlinked))} if unlinked else {}
    for event in sorted(callbacks, key=lambda e: e.id):
        sid = event.payload["MessageSid"]
        message = by_sid.get(sid)
        if message is None:
            message = by_id.get(_message_id(event))
            if message is not None and message.provider_sid not in (None, sid):
                message = None  # that message already has another sid: this callback is not for it
        if message is None:
            outcomes[event.id] = Outcome()  # a text Kaimen does not know
            continue
        if signer_business(event.signer) not in (None, message.business_id):
            outcomes[event.id] = refuse_wrong_account(session, event, "/twilio/status")
            continue
        if message.provider_sid is None:  # the worker never heard back: the callback links its sid
            message.provider_sid = sid
            by_sid[sid] = message
        _move(session, message, event)
        outcomes[event.id] = Outcome(message.business_id)
    return outcomes


def _locked(session: Session, condition) -> list[Message]:
    """The messages matching ``condition``, locked on PostgreSQL until the batch commits."""
    return list(session.exec(select(Message).where(condition).with_for_update()).all())


def _move(session: Session, message: Message, event: WebhookEvent) -> None:
    """Move the text to the callback's status unless it is already as far; a failure is recorded with its code."""
    status = _delivery.STORED_AS.get(event.payload["MessageStatus"], event.payload["MessageStatus"])
    if status not in _delivery.STATUS_RANK or \
            _delivery.STATUS_RANK[status] <= _delivery.STATUS_RANK.get(message.status, 0):
        session.add(message)
        return
    error_code = event.payload.get("ErrorCode") or None
    if status in ("failed", "undelivered"):
        _delivery._fail(session, message, error_code, f"Twilio error {error_code}" if error_code else "not delivered",
                        event.received_at)
    message.status = status
    message.updated_at = event.received_at
    session.add(message)
