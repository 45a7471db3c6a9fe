"""Retention: each business's periods, and the purge the worker runs once a day.

Defaults: messages 24 months, raw webhook payloads 30 days, audit events 12 months,
closed privacy-request records 24 months; the per-network sign-in and sign-up counts a
day. Each purge records what it removed (counts only) in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from kaimen_core import audit, auth, db
from kaimen_core.actors import SYSTEM, Actor
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import AuditEvent, Business, Message, PrivacyRequest, WebhookEvent, utcnow
from kaimen_core.privacy import add_months

__all__ = ["LIMITS", "RetentionPeriods", "get_periods", "purge_expired", "set_periods"]

#: Allowed range of each period (the unit is in the name).
LIMITS = {
    "messages_months": (1, 120),
    "webhook_days": (1, 365),
    "audit_months": (6, 120),
    "requests_months": (24, 120),
}


@dataclass(frozen=True, slots=True)
class RetentionPeriods:
    """How long a business keeps each kind of record."""

    messages_months: int = 24
    webhook_days: int = 30
    audit_months: int = 12
    requests_months: int = 24


def get_periods(session: Session, *, actor: Actor) -> RetentionPeriods:
    """The owner's business's retention periods."""
    actor.require("owner")
    b = db.owned(session, Business, actor.business_id, actor=actor)
    return RetentionPeriods(b.retention_messages_months, b.retention_webhook_days, b.retention_audit_months,
                            b.retention_requests_months)


def set_periods(session: Session, *, actor: Actor, periods: RetentionPeriods) -> RetentionPeriods:
    """Change the periods, each within its allowed range."""
    actor.require("owner")
    b = db.owned(session, Business, actor.business_id, actor=actor)
    for name, (low, high) in LIMITS.items():
        value = getattr(periods, name)
        if not isinstance(value, int) or not low <= value <= high:
            unit = name.rsplit("_", 1)[1]
            raise ValidationError(f"{name.split('_')[0].title()} must be kept {low}–{high} {unit}.", field=name)
    (b.retention_messages_months, b.retention_webhook_days, b.retention_audit_months,
     b.retention_requests_months) = (periods.messages_months, periods.webhook_days, periods.audit_months,
                                     periods.requests_months)
    b.updated_at = utcnow()
    session.add(b)
    audit.record(session, actor=actor, action="retention.changed", target_type="business", target_id=b.id,
                 detail={"messages_months": periods.messages_months, "webhook_days": periods.webhook_days,
                         "audit_months": periods.audit_months, "requests_months": periods.requests_months})
    return periods


def purge_expired(session: Session, *, now: datetime | None = None) -> dict[int | None, dict[str, int]]:
    """Delete what has outlived its business's periods (a system session: every business)."""
    now = now or utcnow()
    removed: dict[int | None, dict[str, int]] = {}
    for b in session.exec(select(Business)).all():
        counts = {
            "messages": session.exec(delete(Message).where(
                Message.business_id == b.id, Message.created_at < add_months(now, -b.retention_messages_months))
            ).rowcount,
            "webhook_events": session.exec(delete(WebhookEvent).where(
                WebhookEvent.business_id == b.id,
                WebhookEvent.received_at < now - timedelta(days=b.retention_webhook_days))).rowcount,
            "audit_events": session.exec(delete(AuditEvent).where(
                AuditEvent.business_id == b.id, AuditEvent.created_at < add_months(now, -b.retention_audit_months))
            ).rowcount,
            "privacy_requests": session.exec(delete(PrivacyRequest).where(
                PrivacyRequest.business_id == b.id, col(PrivacyRequest.status).in_(("completed", "refused")),
                PrivacyRequest.received_at < add_months(now, -b.retention_requests_months))).rowcount,
        }
        if any(counts.values()):
            removed[b.id] = counts
            audit.record(session, actor=SYSTEM, action="retention.purged", business_id=b.id, detail=counts)
    defaults = RetentionPeriods()
    platform = {
        "webhook_events": session.exec(delete(WebhookEvent).where(
            col(WebhookEvent.business_id).is_(None),
            WebhookEvent.received_at < now - timedelta(days=defaults.webhook_days))).rowcount,
        "audit_events": session.exec(delete(AuditEvent).where(
            col(AuditEvent.business_id).is_(None),
            AuditEvent.created_at < add_months(now, -defaults.audit_months))).rowcount,
        "network_attempts": auth.purge_network_attempts(session, now=now),
    }
    if any(platform.values()):
        removed[None] = platform
        audit.record(session, actor=SYSTEM, action="retention.purged", detail=platform)
    return removed
