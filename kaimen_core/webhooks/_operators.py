"""Operators: the stored webhook events of every business and provider, and replaying them.

Both functions are for operators only and open their cross-business scope through
``audit.record_operator_access`` (which also records why). Each payload is shown as its
provider's ``shown`` function masks it (Twilio: phone numbers keep their last four
digits, message text and media links are replaced by their size, unknown fields are
hidden); a provider not in the list given has every field hidden.

A replay puts events back to ``received``; the worker applies them again, which is
harmless for an event already applied (applying is idempotent on the provider's id)
and retries one that failed. Each replayed event is in the audit log with who did it,
the reason (chosen from :data:`REPLAY_REASONS`, so no free text reaches the log) and
the status it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, ValidationError
from kaimen_core.models import Business, WebhookEvent
from kaimen_core.webhooks._provider import Provider, hide_every_field

__all__ = ["EVENT_STATUSES", "REPLAY_REASONS", "WebhookEventPage", "WebhookEventRow", "list_webhook_events",
           "replay_webhook_events"]

EVENT_STATUSES = ("received", "applied", "failed")
PAGE_SIZE = 50
MAX_REPLAY = 500
#: Why an operator replays events (the key is recorded in the audit log).
REPLAY_REASONS = {
    "cause_fixed": "The cause of the failure is fixed",
    "number_assigned": "The number now belongs to a business",
    "incident": "Re-applying after an incident",
    "business_asked": "The business asked for it",
}


@dataclass(frozen=True, slots=True)
class WebhookEventRow:
    """One stored event as an operator sees it: its payload masked."""

    id: int
    provider: str
    kind: str
    event_id: str
    signer: str
    business_id: int | None
    business_name: str | None
    status: str
    error: str | None
    received_at: datetime
    processed_at: datetime | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WebhookEventPage:
    """One page of events, newest first, and how many match in all."""

    rows: list[WebhookEventRow]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def list_webhook_events(session: Session, *, actor: Actor, providers: Sequence[Provider], provider: str | None = None,
                        status: str | None = None, business_id: int | None = None, page: int = 1,
                        page_size: int = PAGE_SIZE) -> WebhookEventPage:
    """Operators: stored events, newest first, one page at a time, filtered by provider, status, business.

    ``providers``: the providers whose events may be listed (each masks its own payloads).
    """
    audit.record_operator_access(session, actor=actor, purpose="webhook_events", business_id=business_id)
    shown = {known.name: known.shown for known in providers}
    if provider is not None and provider not in shown:
        raise ValidationError(f"Unknown provider {provider!r}.", field="provider")
    if status is not None and status not in EVENT_STATUSES:
        raise ValidationError(f"Unknown status {status!r}.", field="status")
    page_size = max(1, min(page_size, 200))
    page = max(1, page)
    conditions = []
    if provider:
        conditions.append(WebhookEvent.provider == provider)
    if status:
        conditions.append(WebhookEvent.status == status)
    if business_id is not None:
        conditions.append(WebhookEvent.business_id == business_id)
    total = session.exec(select(func.count()).select_from(WebhookEvent).where(*conditions)).one()
    query = (select(WebhookEvent, Business.name).join(Business, col(WebhookEvent.business_id) == Business.id,
                                                      isouter=True)
             .where(*conditions).order_by(col(WebhookEvent.received_at).desc(), col(WebhookEvent.id).desc())
             .offset((page - 1) * page_size).limit(page_size))
    rows = [WebhookEventRow(event.id, event.provider, event.kind, event.event_id, event.signer, event.business_id,
                            name, event.status, event.error, event.received_at, event.processed_at,
                            shown.get(event.provider, hide_every_field)(event.payload or {}))
            for event, name in session.exec(query)]
    return WebhookEventPage(rows, page, page_size, int(total))


def replay_webhook_events(session: Session, *, actor: Actor, event_ids: list[int], reason: str) -> int:
    """Operators: put events back to be applied again by the worker; returns how many. Audited per event."""
    audit.record_operator_access(session, actor=actor, purpose="webhook_replay")
    if reason not in REPLAY_REASONS:
        raise ValidationError("Choose why the events are replayed.", field="reason")
    wanted = sorted({int(event_id) for event_id in event_ids})
    if not wanted:
        raise ValidationError("Choose at least one event.", field="event_ids")
    if len(wanted) > MAX_REPLAY:
        raise ValidationError(f"Replay at most {MAX_REPLAY} events at a time.", field="event_ids")
    query = select(WebhookEvent).where(col(WebhookEvent.id).in_(wanted)).order_by(col(WebhookEvent.id))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    events = list(session.exec(query).all())
    if len(events) != len(wanted):
        raise NotFound("Some of those events no longer exist (retention may have removed them).")
    for event in events:
        audit.record(session, actor=actor, action="webhook.replayed", business_id=event.business_id,
                     target_type="webhook_event", target_id=event.id,
                     detail={"provider": event.provider, "kind": event.kind, "previous_status": event.status,
                             "reason": reason})
        event.status, event.error, event.processed_at = "received", None, None
        session.add(event)
    return len(events)
