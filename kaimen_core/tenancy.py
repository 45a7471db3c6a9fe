"""Businesses (tenants): sign-up, settings, status, and operators' enforcement actions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from kaimen_core import audit, auth, db
from kaimen_core.actors import Actor, Origin
from kaimen_core.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from kaimen_core.models import (
    BUSINESS_STATUSES,
    ENFORCEMENT_ACTIONS,
    Business,
    BusinessPublic,
    BusinessUpdate,
    EnforcementAction,
    User,
    utcnow,
)
from kaimen_core.validators import clean_name, clean_phone, clean_region, clean_search, clean_time_zone, slugify

__all__ = [
    "EMAIL_IN_USE",
    "BusinessRow",
    "EnforcementRecord",
    "business_by_slug",
    "enforce",
    "get_business",
    "list_businesses",
    "list_enforcement",
    "sign_up",
    "unique_slug",
    "update_business",
]


@dataclass(frozen=True, slots=True)
class BusinessRow:
    """A business as the operators' list shows it."""

    id: int
    name: str
    slug: str
    status: str
    messaging_enabled: bool
    users: int
    created_at: object
    closure_requested: bool = False


@dataclass(frozen=True, slots=True)
class EnforcementRecord:
    """One enforcement action as shown to operators and to the business's owner."""

    id: int
    business_id: int
    action: str
    reason: str
    created_at: object


def unique_slug(session: Session, name: str) -> str:
    """A slug for ``name`` not yet used by any business."""
    base = slugify(name) or "business"
    taken = set(
        session.exec(select(Business.slug).where(col(Business.slug).startswith(base))).all()
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


#: What a visitor is told when the email already has an account. Sign-up asks for no
#: username, so the email is the only thing that can be taken (see docs/architecture.md).
EMAIL_IN_USE = ("This email address cannot be used for a new account. If you already have a Kaimen "
                "account, sign in with it; a new business needs an email address of its own.")


def sign_up(
    *,
    business_name: str,
    owner_name: str,
    email: str,
    phone: str,
    region: str,
    time_zone: str,
    password: str,
    confirm_password: str,
    origin: Origin,
    engine: Engine | None = None,
) -> auth.SignedIn:
    """Create a business and its owner, and sign the owner in. Nothing is written on error.

    The owner's username is made from their email; they sign in with either. Each attempt
    that gets as far as the email counts against the visitor's network
    (:data:`~kaimen_core.auth.NEW_ACCOUNTS_PER_NETWORK`), so asking whether emails have
    accounts is slow; a taken email is answered with :data:`EMAIL_IN_USE`.
    """
    name = clean_name(business_name, field="business_name", label="Business name")
    clean_name(owner_name, field="owner_name", label="Your name")
    region = clean_region(region)
    zone = clean_time_zone(time_zone)
    contact = clean_phone(phone, region=region)
    try:
        with auth.new_account_attempt(actor=auth.visitor(origin), successes_count=True, engine=engine), \
                db.system_session(engine=engine) as session:
            business = Business(
                name=name, slug=unique_slug(session, name), time_zone=zone, region=region, phone=contact
            )
            session.add(business)
            session.flush()
            owner = auth.new_user(
                session,
                role="owner",
                business_id=business.id,
                username=None,
                email=email,
                display_name=owner_name,
                password=password,
                confirm_password=confirm_password,
            )
            signed_in = auth.open_session(session, user=owner, origin=origin)
            audit.record(session, actor=signed_in.actor, action="business.signed_up",
                         target_type="business", target_id=business.id)
            return signed_in
    except Conflict:
        raise Conflict(EMAIL_IN_USE) from None


def get_business(session: Session, *, actor: Actor) -> BusinessPublic:
    """The actor's own business."""
    actor.require("owner", "staff")
    business = db.owned(session, Business, actor.business_id, actor=actor)
    return BusinessPublic.model_validate(business, from_attributes=True)


def update_business(session: Session, *, actor: Actor, changes: BusinessUpdate) -> BusinessPublic:
    """An owner changes the business's name, region, time zone or contact number."""
    actor.require("owner")
    business = db.owned(session, Business, actor.business_id, actor=actor)
    changed: list[str] = []
    if changes.name is not None:
        business.name = clean_name(changes.name, field="name", label="Business name")
        changed.append("name")
    if changes.region is not None:
        business.region = clean_region(changes.region)
        changed.append("region")
    if changes.time_zone is not None:
        business.time_zone = clean_time_zone(changes.time_zone)
        changed.append("time_zone")
    if changes.phone is not None:
        business.phone = clean_phone(changes.phone, region=business.region, required=False)
        changed.append("phone")
    if changed:
        business.updated_at = utcnow()
        session.add(business)
        audit.record(session, actor=actor, action="business.updated", target_type="business",
                     target_id=business.id, detail={"fields": ",".join(sorted(changed))})
    return BusinessPublic.model_validate(business, from_attributes=True)


def business_by_slug(session: Session, *, actor: Actor, slug: str) -> BusinessPublic:
    """Operators: the business with this slug."""
    audit.record_operator_access(session, actor=actor, purpose="business_lookup")
    wanted = clean_search(slug, field="slug", label="The slug").lower()
    business = session.exec(select(Business).where(Business.slug == wanted)).first()
    if business is None:
        raise NotFound(f"No business has the slug {slug!r}.")
    return BusinessPublic.model_validate(business, from_attributes=True)


def list_businesses(
    session: Session, *, actor: Actor, status: str | None = None, search: str | None = None, limit: int = 200
) -> list[BusinessRow]:
    """Operators: every business with its status and team size, newest first."""
    audit.record_operator_access(session, actor=actor, purpose="businesses")
    users = (
        select(User.business_id, func.count().label("n"))
        .where(col(User.removed_at).is_(None))
        .group_by(User.business_id)
        .subquery()
    )
    query = select(Business, func.coalesce(users.c.n, 0)).outerjoin(users, users.c.business_id == Business.id)
    if status:
        if status not in BUSINESS_STATUSES:
            raise ValidationError(f"Unknown status {status!r}.", field="status")
        query = query.where(Business.status == status)
    search = clean_search(search)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(func.lower(Business.name).like(pattern) | col(Business.slug).like(pattern))
    rows = session.exec(query.order_by(col(Business.created_at).desc()).limit(limit)).all()
    return [
        BusinessRow(b.id, b.name, b.slug, b.status, b.messaging_enabled, count, b.created_at,
                    b.closure_requested_at is not None)
        for b, count in rows
    ]


_TRANSITIONS = {
    "suspend": ({"active"}, "suspended"),
    "terminate": ({"active", "suspended"}, "terminated"),
    "reinstate": ({"suspended", "terminated"}, "active"),
}


def enforce(session: Session, *, actor: Actor, business_id: int, action: str, reason: str) -> EnforcementRecord:
    """Operators act on a business under the acceptable-use policy; the reason is kept.

    Suspending or terminating signs out every user of the business at once.
    """
    audit.record_operator_access(session, actor=actor, purpose="enforcement", business_id=business_id)
    if action not in ENFORCEMENT_ACTIONS:
        raise ValidationError(f"Unknown action {action!r}.", field="action")
    reason = clean_name(reason, field="reason", label="Reason", max_length=500)
    if len(reason) < 5:
        raise ValidationError("Give a reason of at least 5 characters.", field="reason")
    business = session.get(Business, business_id)
    if business is None:
        raise NotFound("No such business.")
    if action in _TRANSITIONS:
        allowed, new_status = _TRANSITIONS[action]
        if business.status not in allowed:
            raise ValidationError(f"Cannot {action} a business that is {business.status}.", field="action")
        business.status = new_status
    elif action in ("disable_messaging", "enable_messaging"):
        wanted = action == "enable_messaging"
        if business.messaging_enabled == wanted:
            state = "enabled" if wanted else "disabled"
            raise ValidationError(f"Messaging is already {state}.", field="action")
        business.messaging_enabled = wanted
    business.updated_at = utcnow()
    session.add(business)
    revoked = 0
    if business.status != "active":
        for user_id in session.exec(select(User.id).where(User.business_id == business_id)).all():
            revoked += auth.revoke_sessions(session, user_id=user_id, reason=f"business_{business.status}")
    row = EnforcementAction(business_id=business_id, operator_user_id=actor.user_id, action=action, reason=reason)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action=f"enforcement.{action}", business_id=business_id,
                 target_type="business", target_id=business_id,
                 detail={"enforcement_id": row.id, "sessions_revoked": revoked})
    return EnforcementRecord(row.id, business_id, action, reason, row.created_at)


def list_enforcement(session: Session, *, actor: Actor, business_id: int | None = None) -> list[EnforcementRecord]:
    """Owners see the actions taken against their business; operators see any business's."""
    if actor.is_operator:
        audit.record_operator_access(session, actor=actor, purpose="enforcement_history", business_id=business_id)
        query = select(EnforcementAction)
        if business_id is not None:
            query = query.where(EnforcementAction.business_id == business_id)
    else:
        actor.require("owner")
        if business_id not in (None, actor.business_id):
            raise PermissionDenied("Only operators can read another business's enforcement history.")
        query = select(EnforcementAction).where(EnforcementAction.business_id == actor.business_id)
    rows = session.exec(query.order_by(col(EnforcementAction.created_at).desc()).limit(200)).all()
    return [EnforcementRecord(r.id, r.business_id, r.action, r.reason, r.created_at) for r in rows]
