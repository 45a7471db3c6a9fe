"""What the Home page shows: a business's figures, or the platform's for operators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session, col, func, select

from kaimen_core import audit, tenancy
from kaimen_core.actors import Actor
from kaimen_core.models import (
    AuditEvent,
    AuditEventPublic,
    Booking,
    Business,
    Customer,
    Message,
    PrivacyRequest,
    User,
    UserSession,
    utcnow,
)

__all__ = ["BusinessOverview", "PlatformOverview", "business_overview", "platform_overview"]


@dataclass(frozen=True, slots=True)
class BusinessOverview:
    """One business's figures for its Home page."""

    business_name: str
    time_zone: str
    customers: int
    upcoming_bookings: int
    messages_last_30_days: int
    open_privacy_requests: int
    team: int
    warnings: list[tenancy.EnforcementRecord] = field(default_factory=list)
    recent_activity: list[AuditEventPublic] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PlatformOverview:
    """Kaimen-wide figures for operators."""

    businesses_by_status: dict[str, int]
    users: int
    active_sessions: int
    failed_sign_ins_24h: int
    recent_activity: list[AuditEventPublic]


def _count(session: Session, query) -> int:
    return int(session.exec(query).one())


def business_overview(session: Session, *, actor: Actor) -> BusinessOverview:
    """Counts for the actor's business; owners also see recent activity and warnings."""
    actor.require("owner", "staff")
    business = tenancy.get_business(session, actor=actor)
    mine = actor.business_id
    now = utcnow()
    overview = BusinessOverview(
        business_name=business.name,
        time_zone=business.time_zone,
        customers=_count(session, select(func.count()).select_from(Customer).where(Customer.business_id == mine)),
        upcoming_bookings=_count(
            session,
            select(func.count()).select_from(Booking).where(
                Booking.business_id == mine, Booking.start_at >= now, Booking.status == "booked"
            ),
        ),
        messages_last_30_days=_count(
            session,
            select(func.count()).select_from(Message).where(
                Message.business_id == mine, Message.created_at >= now - timedelta(days=30)
            ),
        ),
        open_privacy_requests=_count(
            session,
            select(func.count()).select_from(PrivacyRequest).where(
                PrivacyRequest.business_id == mine,
                col(PrivacyRequest.status).in_(("received", "verified", "in_progress")),
            ),
        ),
        team=_count(
            session,
            select(func.count()).select_from(User).where(User.business_id == mine, col(User.removed_at).is_(None)),
        ),
    )
    if actor.role == "owner":
        overview.warnings.extend(
            r for r in tenancy.list_enforcement(session, actor=actor) if r.action == "warn"
        )
        overview.recent_activity.extend(audit.list_events(session, actor=actor, limit=10))
    return overview


def platform_overview(session: Session, *, actor: Actor) -> PlatformOverview:
    """Operators: businesses by status, users, live sessions, failed sign-ins, recent events."""
    audit.record_operator_access(session, actor=actor, purpose="platform_overview")
    now = utcnow()
    by_status = dict(session.exec(select(Business.status, func.count()).group_by(Business.status)).all())
    return PlatformOverview(
        businesses_by_status={status: by_status.get(status, 0) for status in ("active", "suspended", "terminated")},
        users=_count(session, select(func.count()).select_from(User).where(col(User.removed_at).is_(None))),
        active_sessions=_count(
            session,
            select(func.count()).select_from(UserSession).where(
                col(UserSession.revoked_at).is_(None), UserSession.expires_at > now
            ),
        ),
        failed_sign_ins_24h=_count(
            session,
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "auth.sign_in_failed", AuditEvent.created_at >= now - timedelta(hours=24)
            ),
        ),
        recent_activity=audit.list_events(session, actor=actor, limit=15),
    )
