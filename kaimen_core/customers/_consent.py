"""Consent: a customer's SMS consent as events (appended, never rewritten), and the
customer's whole history as it exists in the tables (bookings, messages, privacy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.customers._directory import _require_member
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import (
    Booking,
    ConsentEvent,
    Customer,
    Message,
    PrivacyRequest,
    Service,
    StaffMember,
    User,
    utcnow,
)
from kaimen_core.models.customers import CONSENT_METHODS, CustomerPublic
from kaimen_core.validators import clean_text

__all__ = [
    "BookingLine",
    "ConsentRecord",
    "CustomerHistory",
    "MessageLine",
    "PrivacyLine",
    "clean_consent_method",
    "customer_history",
    "list_consent_events",
    "record_consent",
]

_MAX_WORDING = 1000
_METHOD_LABELS = {method.replace("_", " "): method for method in CONSENT_METHODS}


def clean_consent_method(value: str | None, *, field: str = "method") -> str:
    """One of CONSENT_METHODS, also accepting them written with spaces ("in person")."""
    text = " ".join((value or "").strip().lower().replace("_", " ").replace("-", " ").split())
    if text not in _METHOD_LABELS:
        known = ", ".join(CONSENT_METHODS)
        raise ValidationError(f"{value!r} is not a known consent source (one of: {known}).", field=field)
    return _METHOD_LABELS[text]


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent event as the customer's page shows it."""

    kind: str
    granted: bool
    method: str
    wording: str | None
    captured_by: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class BookingLine:
    start_at: datetime
    status: str
    service: str | None
    staff: str | None


@dataclass(frozen=True, slots=True)
class MessageLine:
    created_at: datetime
    direction: str
    status: str
    body: str


@dataclass(frozen=True, slots=True)
class PrivacyLine:
    kind: str
    status: str
    received_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """Everything the business holds about one customer, newest first."""

    customer: CustomerPublic
    consent: list[ConsentRecord]
    bookings: list[BookingLine]
    messages: list[MessageLine]
    privacy_requests: list[PrivacyLine]


def record_consent(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    kind: str,
    granted: bool,
    method: str,
    wording: str | None = None,
    occurred_at: datetime | None = None,
) -> CustomerPublic:
    """Record a change of transactional or marketing consent as a new event.

    Granting marketing consent needs the wording the customer was shown; opting out and
    back in (STOP/START) belong to messaging, so this refuses a change for an opted-out
    customer.
    """
    _require_member(actor)
    if kind not in ("transactional", "marketing"):
        raise ValidationError("Consent is either transactional or marketing.", field="kind")
    method = clean_consent_method(method)
    text = clean_text(wording, field="wording", label="The wording", multiline=True) or None
    if text and len(text) > _MAX_WORDING:
        raise ValidationError(f"The wording must be at most {_MAX_WORDING} characters.", field="wording")
    if kind == "marketing" and granted and not text and method != "import":
        raise ValidationError("Record the wording the customer agreed to.", field="wording")
    when = (occurred_at or utcnow()).replace(microsecond=0)  # whole seconds, as exports write them
    if when.tzinfo is None:
        raise ValidationError("The consent time needs a time zone.", field="occurred_at")
    if when > utcnow():
        raise ValidationError("The consent date cannot be in the future.", field="occurred_at")
    customer = db.owned(session, Customer, customer_id, actor=actor)
    if customer.opted_out_at is not None and granted:
        raise ValidationError("This customer has opted out; only they can opt back in (by texting START).")
    session.add(ConsentEvent(business_id=customer.business_id, customer_id=customer.id, kind=kind, granted=granted,
                             method=method, wording=text, captured_by_user_id=actor.user_id, occurred_at=when))
    if kind == "marketing":
        customer.marketing_consent = granted
        customer.marketing_consent_method = method if granted else None
        customer.marketing_consent_at = when if granted else None
    else:
        customer.transactional_consent = granted
    customer.updated_at = utcnow()
    session.add(customer)
    session.flush()
    audit.record(session, actor=actor, action="customer.consent_changed", target_type="customer",
                 target_id=customer.id, detail={"kind": kind, "granted": granted, "method": method})
    return CustomerPublic.model_validate(customer, from_attributes=True)


def list_consent_events(session: Session, *, actor: Actor, customer_id: int) -> list[ConsentRecord]:
    """A customer's consent history, newest first."""
    _require_member(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    rows = session.exec(
        select(ConsentEvent, User.username)
        .outerjoin(User, col(User.id) == ConsentEvent.captured_by_user_id)
        .where(ConsentEvent.business_id == customer.business_id, ConsentEvent.customer_id == customer.id)
        .order_by(col(ConsentEvent.occurred_at).desc(), col(ConsentEvent.id).desc())
    ).all()
    return [ConsentRecord(e.kind, e.granted, e.method, e.wording, username, e.occurred_at) for e, username in rows]


def customer_history(session: Session, *, actor: Actor, customer_id: int, limit: int = 100) -> CustomerHistory:
    """Profile, consent history, bookings, messages and privacy requests of one customer."""
    _require_member(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    business = customer.business_id
    bookings = session.exec(
        select(Booking, Service.name, StaffMember.name)
        .outerjoin(Service, col(Service.id) == Booking.service_id)
        .outerjoin(StaffMember, col(StaffMember.id) == Booking.staff_id)
        .where(Booking.business_id == business, Booking.customer_id == customer.id)
        .order_by(col(Booking.start_at).desc()).limit(limit)
    ).all()
    messages = session.exec(
        select(Message).where(Message.business_id == business, Message.customer_id == customer.id)
        .order_by(col(Message.created_at).desc()).limit(limit)
    ).all()
    requests = session.exec(
        select(PrivacyRequest).where(PrivacyRequest.business_id == business, PrivacyRequest.customer_id == customer.id)
        .order_by(col(PrivacyRequest.received_at).desc()).limit(limit)
    ).all()
    return CustomerHistory(
        customer=CustomerPublic.model_validate(customer, from_attributes=True),
        consent=list_consent_events(session, actor=actor, customer_id=customer.id),
        bookings=[BookingLine(b.start_at, b.status, service, staff) for b, service, staff in bookings],
        messages=[MessageLine(m.created_at, m.direction, m.status, m.body) for m in messages],
        privacy_requests=[PrivacyLine(p.kind, p.status, p.received_at, p.due_at) for p in requests],
    )
