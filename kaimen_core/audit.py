"""The audit log: who did what, when and from where.

Details carry ids, counts, roles and reasons chosen from lists; never a password, a
customer's name, number, email or message text. :func:`record` refuses anything that
is not a short scalar so free text cannot slip in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, PermissionDenied
from kaimen_core.models import AuditEvent, AuditEventPublic, Business, utcnow
from kaimen_core.validators import clean_search

__all__ = ["list_events", "record", "record_operator_access"]

_MAX_DETAIL_TEXT = 80
_OPERATOR_ACCESS_WINDOW = timedelta(minutes=10)


def _checked_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise TypeError(f"audit detail {key!r} must be a scalar, not {type(value).__name__}")
        if isinstance(value, str) and len(value) > _MAX_DETAIL_TEXT:
            raise ValueError(f"audit detail {key!r} is longer than {_MAX_DETAIL_TEXT} characters")
        checked[key] = value
    return checked


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    business_id: int | None = None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    detail: dict[str, Any] | None = None,
    flush: bool = True,
) -> AuditEvent:
    """Add an audit event in the caller's transaction (it commits with the change it records).

    ``business_id`` defaults to the actor's business; an owner or staff member cannot
    name another (only operators and the system record across businesses). ``flush=False``
    leaves the insert to the session's next flush, so a caller recording many events
    writes them together.
    """
    if business_id is None:
        business_id = actor.business_id
    elif actor.business_id is not None and business_id != actor.business_id:
        raise PermissionDenied("Events can only be recorded in your own business.")
    event = AuditEvent(
        business_id=business_id,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:60],
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        detail=_checked_detail(detail),
        ip_address=actor.origin.ip_address,
        user_agent=(actor.origin.user_agent or None) and actor.origin.user_agent[:300],
    )
    session.add(event)
    if flush:
        session.flush()
    return event


def record_operator_access(
    session: Session, *, actor: Actor, purpose: str, business_id: int | None = None
) -> None:
    """Open the operator's cross-business scope and record why.

    Repeated views of the same thing within ten minutes are recorded once, so reading a
    page does not flood the log while every distinct access is still on record.
    """
    db.enter_operator_scope(session, actor)
    if business_id is not None and session.get(Business, business_id) is None:
        raise NotFound("No such business.")
    same_business = (
        col(AuditEvent.business_id).is_(None)
        if business_id is None
        else AuditEvent.business_id == business_id
    )
    recent = session.exec(
        select(AuditEvent.id)
        .where(
            AuditEvent.actor_user_id == actor.user_id,
            AuditEvent.action == "operator.access",
            AuditEvent.target_type == purpose,
            same_business,
            AuditEvent.created_at >= utcnow() - _OPERATOR_ACCESS_WINDOW,
        )
        .limit(1)
    ).first()
    if recent is None:
        record(
            session,
            actor=actor,
            action="operator.access",
            business_id=business_id,
            target_type=purpose,
        )


def list_events(
    session: Session,
    *,
    actor: Actor,
    business_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> list[AuditEventPublic]:
    """Newest first. Owners see their business's events; operators see every business's."""
    actor.require("owner", "operator")
    query = select(AuditEvent)
    if actor.is_operator:
        record_operator_access(session, actor=actor, purpose="audit_log", business_id=business_id)
        if business_id is not None:
            query = query.where(AuditEvent.business_id == business_id)
    else:
        if business_id not in (None, actor.business_id):
            raise PermissionDenied("Only operators can read another business's events.")
        query = query.where(AuditEvent.business_id == actor.business_id)
    action = clean_search(action, field="action", label="Action")
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    query = query.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc()).limit(
        max(1, min(limit, 1000))
    )
    return [AuditEventPublic.model_validate(event, from_attributes=True) for event in session.exec(query)]
