"""Privacy requests: recording them, finding the customer, loading them for an actor, and
the list with what is overdue or due soon. What happens to a request next: ``_workflow``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, PermissionDenied, ValidationError
from kaimen_core.models import Business, Customer, PrivacyRequest, utcnow
from kaimen_core.models.privacy import PRIVACY_KINDS, PRIVACY_REGIMES
from kaimen_core.privacy._deadlines import (
    DUE_SOON,
    RETENTION,
    acknowledge_by,
    add_months,
    due_date,
)
from kaimen_core.validators import clean_email, clean_name, clean_phone, clean_text

__all__ = [
    "CHANNELS",
    "KINDS",
    "OPEN_STATUSES",
    "REGIMES",
    "RequestView",
    "audit_request",
    "find_customer",
    "get_request",
    "list_requests",
    "load_request",
    "record_request",
    "view_of",
]

KINDS = PRIVACY_KINDS
REGIMES = PRIVACY_REGIMES
CHANNELS = ("email", "phone", "text message", "in person", "letter", "web form", "other")
OPEN_STATUSES = ("received", "verified", "in_progress")


@dataclass(frozen=True, slots=True)
class RequestView:
    """A request as the Privacy pages show it."""

    id: int
    business_id: int
    customer_id: int | None
    subject_ref: str | None
    kind: str
    regime: str
    status: str
    channel: str
    requester_name: str | None
    received_at: datetime
    due_at: datetime
    effective_due_at: datetime
    acknowledge_by: datetime | None
    acknowledged_at: datetime | None
    verified_at: datetime | None
    verification_method: str | None
    completed_at: datetime | None
    refusal_reason: str | None
    extension_notice: str | None
    response: str | None
    changed_fields: list[str]
    certificate: dict
    overdue: bool
    due_soon: bool


def view_of(row: PrivacyRequest, now: datetime) -> RequestView:
    """A request row as the Privacy pages show it, its deadlines read at ``now``."""
    effective = row.extended_until or row.due_at
    open_ = row.status in OPEN_STATUSES
    ack_late = bool(row.acknowledge_by and not row.acknowledged_at and now > row.acknowledge_by)
    return RequestView(
        id=row.id, business_id=row.business_id, customer_id=row.customer_id, subject_ref=row.subject_ref,
        kind=row.kind, regime=row.regime, status=row.status, channel=row.channel,
        requester_name=row.requester_name, received_at=row.received_at, due_at=row.due_at,
        effective_due_at=effective, acknowledge_by=row.acknowledge_by, acknowledged_at=row.acknowledged_at,
        verified_at=row.verified_at, verification_method=row.verification_method, completed_at=row.completed_at,
        refusal_reason=row.refusal_reason, extension_notice=row.extension_notice, response=row.response,
        changed_fields=list(row.changed_fields or []), certificate=dict(row.certificate or {}),
        overdue=open_ and (now > effective or ack_late), due_soon=open_ and now <= effective <= now + DUE_SOON,
    )


def _business_for(session: Session, actor: Actor, business_id: int | None, purpose: str) -> int:
    """The business the actor may act on: their own, or (operators) the one named."""
    if actor.is_operator:
        if business_id is None:
            raise ValidationError("Choose the business this request belongs to.", field="business_id")
        audit.record_operator_access(session, actor=actor, purpose=purpose, business_id=business_id)
        return business_id
    actor.require("owner")
    if business_id is not None and business_id != actor.business_id:
        raise PermissionDenied("You can only act on your own business's privacy requests.")
    return actor.business_id


def load_request(session: Session, *, actor: Actor, request_id: int) -> PrivacyRequest:
    """The request row, if the actor may see it (owners: their business; operators: any)."""
    if not actor.is_operator:
        actor.require("owner")
        return db.owned(session, PrivacyRequest, request_id, actor=actor)
    audit.record_operator_access(session, actor=actor, purpose="privacy_request")
    row = session.get(PrivacyRequest, request_id)
    if row is None:
        raise NotFound("No such privacy request.")
    return row


def load_requests(session: Session, *, actor: Actor, request_ids: list[int]) -> dict[int, PrivacyRequest]:
    """:func:`load_request` for many: the rows the actor may see, by id (the others are absent)."""
    if actor.is_operator:
        audit.record_operator_access(session, actor=actor, purpose="privacy_request")
        scope = []
    else:
        actor.require("owner")
        scope = [PrivacyRequest.business_id == actor.business_id]
    found: dict[int, PrivacyRequest] = {}
    for start in range(0, len(request_ids), 5000):
        chunk = request_ids[start:start + 5000]
        found.update((row.id, row) for row in session.exec(
            select(PrivacyRequest).where(col(PrivacyRequest.id).in_(chunk), *scope)))
    return found


def find_customer(session: Session, *, actor: Actor, business_id: int | None = None,
                  phone: str | None = None, email: str | None = None) -> Customer | None:
    """The business's customer with this phone (any format) or email, if any."""
    business = _business_for(session, actor, business_id, "privacy_match")
    query = select(Customer).where(Customer.business_id == business)
    if phone and phone.strip():
        region = session.exec(select(Business.region).where(Business.id == business)).one()
        query = query.where(Customer.phone_e164 == clean_phone(phone, region=region))
    elif email and email.strip():
        query = query.where(Customer.email == clean_email(email))
    else:
        raise ValidationError("Give the phone number or email the person is known by.", field="phone")
    return session.exec(query).first()


def record_request(
    session: Session, *, actor: Actor, kind: str, regime: str, channel: str, requester_name: str,
    requester_contact: str | None = None, phone: str | None = None, email: str | None = None,
    received_at: datetime | None = None, business_id: int | None = None,
) -> RequestView:
    """Record a request as received, matched to a customer by phone or email; set its due dates."""
    business = _business_for(session, actor, business_id, "privacy_record")
    if kind not in PRIVACY_KINDS:
        raise ValidationError(f"Unknown request kind {kind!r}.", field="kind")
    if regime not in PRIVACY_REGIMES:
        raise ValidationError(f"Unknown regime {regime!r}.", field="regime")
    if channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}.", field="channel")
    name = clean_name(requester_name, field="requester_name", label="Requester's name", max_length=200)
    contact = clean_text(requester_contact, field="requester_contact", label="How to reach them")
    now = utcnow()
    received = received_at or now
    if received.utcoffset() is None:
        raise ValidationError("The date received needs a time zone.", field="received_at")
    if received > now:
        raise ValidationError("The date received cannot be in the future.", field="received_at")
    customer = find_customer(session, actor=actor, business_id=business, phone=phone, email=email)
    if customer is None:
        raise ValidationError("No customer of this business has that phone number or email.", field="phone")
    row = PrivacyRequest(
        business_id=business, customer_id=customer.id, subject_ref=f"customer #{customer.id}", kind=kind,
        regime=regime, channel=channel, requester_name=name,
        requester_contact=contact[:254] or None,
        received_at=received, due_at=due_date(regime, received), acknowledge_by=acknowledge_by(regime, received),
        keep_until=add_months(received, RETENTION),
    )
    session.add(row)
    session.flush()
    audit_request(session, actor, row, "privacy.recorded", kind=kind, regime=regime)
    return view_of(row, now)


def list_requests(
    session: Session, *, actor: Actor, business_id: int | None = None, kind: str | None = None,
    open_only: bool = False, limit: int = 500,
) -> list[RequestView]:
    """Owners: their business's requests; operators: every business's (or one). Soonest due first."""
    query = select(PrivacyRequest)
    if actor.is_operator:
        audit.record_operator_access(session, actor=actor, purpose="privacy_requests", business_id=business_id)
        if business_id is not None:
            query = query.where(PrivacyRequest.business_id == business_id)
    else:
        query = query.where(PrivacyRequest.business_id == _business_for(session, actor, business_id, ""))
    if kind:
        if kind not in PRIVACY_KINDS:
            raise ValidationError(f"Unknown request kind {kind!r}.", field="kind")
        query = query.where(PrivacyRequest.kind == kind)
    if open_only:
        query = query.where(col(PrivacyRequest.status).in_(OPEN_STATUSES))
    rows = session.exec(query.order_by(col(PrivacyRequest.due_at), col(PrivacyRequest.id)).limit(limit)).all()
    now = utcnow()
    return [view_of(row, now) for row in rows]


def get_request(session: Session, *, actor: Actor, request_id: int) -> RequestView:
    """One request."""
    return view_of(load_request(session, actor=actor, request_id=request_id), utcnow())


def audit_request(session: Session, actor: Actor, row: PrivacyRequest, action: str, **detail) -> None:
    """The audit event of a change to a request (names and counts only in ``detail``)."""
    audit.record(session, actor=actor, action=action, business_id=row.business_id,
                 target_type="privacy_request", target_id=row.id, detail=detail or None)
