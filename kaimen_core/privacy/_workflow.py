"""What happens to a privacy request after it is recorded: identity verified, receipt
acknowledged, the due date extended once, work started, refused or completed;
a correction's changed fields; a restriction placed and lifted."""

from __future__ import annotations

from sqlmodel import Session

from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, ValidationError
from kaimen_core.models import Customer, PrivacyRequest, utcnow
from kaimen_core.models.customers import CustomerCreate
from kaimen_core.privacy._deadlines import extended_due_date
from kaimen_core.privacy._requests import OPEN_STATUSES, RequestView, audit_request, load_request, view_of
from kaimen_core.validators import clean_name, clean_text

__all__ = [
    "acknowledge",
    "complete",
    "extend",
    "lift_restriction",
    "record_correction",
    "refuse",
    "restrict",
    "start",
    "verify_identity",
]


def _open(row: PrivacyRequest) -> None:
    if row.status not in OPEN_STATUSES:
        raise ValidationError(f"This request is already {row.status}.", field="status")


def verify_identity(session: Session, *, actor: Actor, request_id: int, method: str) -> RequestView:
    """Record who checked the person's identity, and how."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    row.verification_method = clean_name(method, field="method", label="How identity was checked", max_length=200)
    row.verified_by_user_id, row.verified_at = actor.user_id, utcnow()
    if row.status == "received":
        row.status = "verified"
    return _save(session, actor, row, "privacy.verified")


def acknowledge(session: Session, *, actor: Actor, request_id: int) -> RequestView:
    """Record that receipt was acknowledged to the person (CCPA: within 10 business days)."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.acknowledged_at is not None:
        raise ValidationError("Receipt was already acknowledged.", field="status")
    row.acknowledged_at = utcnow()
    return _save(session, actor, row, "privacy.acknowledged")


def extend(session: Session, *, actor: Actor, request_id: int, notice: str) -> RequestView:
    """Extend the due date once, as far as the regime allows, recording the notice sent."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.extended_until is not None:
        raise ValidationError("This request was already extended once.", field="status")
    text = clean_text(notice, field="notice", label="The notice", multiline=True)
    if len(text) < 20:
        raise ValidationError("Record the notice you sent the person (why, and the new date).", field="notice")
    row.extension_notice = text[:2000]
    row.extended_until = extended_due_date(row.regime, row.due_at)
    return _save(session, actor, row, "privacy.extended")


def start(session: Session, *, actor: Actor, request_id: int) -> RequestView:
    """Begin work; identity must have been verified first."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.verified_at is None:
        raise ValidationError("Verify the person's identity first.", field="status")
    row.status = "in_progress"
    return _save(session, actor, row, "privacy.started")


def refuse(session: Session, *, actor: Actor, request_id: int, legal_reason: str) -> RequestView:
    """Refuse the request, recording the legal reason."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    reason = clean_text(legal_reason, field="legal_reason", label="The legal reason", multiline=True)
    if len(reason) < 10:
        raise ValidationError("Give the legal reason for refusing (at least 10 characters).", field="legal_reason")
    row.refusal_reason, row.status, row.completed_at = reason[:2000], "refused", utcnow()
    return _save(session, actor, row, "privacy.refused")


def complete(session: Session, *, actor: Actor, request_id: int, response: str) -> RequestView:
    """Close an access, correction or restriction request with the response given."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.kind == "deletion":
        raise ValidationError("A deletion request completes when its erasure has run.", field="kind")
    if row.verified_at is None:
        raise ValidationError("Verify the person's identity first.", field="status")
    if row.kind == "restriction" and row.customer_id is not None:
        customer = session.get(Customer, row.customer_id)
        if customer is not None and customer.restricted_at is None:
            raise ValidationError("Restrict the customer before completing the request.", field="kind")
    text = clean_text(response, field="response", label="The response", multiline=True)
    if len(text) < 5:
        raise ValidationError("Record how the request was answered.", field="response")
    row.response, row.status, row.completed_at = text[:2000], "completed", utcnow()
    return _save(session, actor, row, "privacy.completed")


def record_correction(session: Session, *, actor: Actor, request_id: int, fields: list[str]) -> RequestView:
    """Note which fields a correction changed (names only, never the values)."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.kind != "correction":
        raise ValidationError("Only a correction request records changed fields.", field="kind")
    allowed = set(CustomerCreate.inputs())
    unknown = sorted(set(fields) - allowed)
    if unknown or not fields:
        raise ValidationError(f"Choose the corrected fields from: {', '.join(sorted(allowed))}.", field="fields")
    row.changed_fields = sorted(set(row.changed_fields or []) | set(fields))
    return _save(session, actor, row, "privacy.corrected", fields=",".join(row.changed_fields))


def _customer_of(session: Session, row: PrivacyRequest) -> Customer:
    customer = session.get(Customer, row.customer_id) if row.customer_id is not None else None
    if customer is None:
        raise NotFound("The customer this request concerns no longer exists.")
    return customer


def restrict(session: Session, *, actor: Actor, request_id: int) -> RequestView:
    """Keep the customer but stop processing them: no texts, no AI, no bulk exports or marketing."""
    row = load_request(session, actor=actor, request_id=request_id)
    _open(row)
    if row.kind != "restriction":
        raise ValidationError("Only a restriction request restricts the customer.", field="kind")
    if row.verified_at is None:
        raise ValidationError("Verify the person's identity first.", field="status")
    customer = _customer_of(session, row)
    if customer.restricted_at is None:
        customer.restricted_at = customer.updated_at = utcnow()
        session.add(customer)
    if row.status != "in_progress":
        row.status = "in_progress"
    return _save(session, actor, row, "privacy.restricted")


def lift_restriction(session: Session, *, actor: Actor, request_id: int, notice: str) -> RequestView:
    """Lift a restriction; the notice told to the person beforehand is recorded."""
    row = load_request(session, actor=actor, request_id=request_id)
    if row.kind != "restriction":
        raise ValidationError("Only a restriction request can be lifted.", field="kind")
    text = clean_text(notice, field="notice", label="The notice", multiline=True)
    if len(text) < 20:
        raise ValidationError("Record the notice you gave the person before lifting it.", field="notice")
    customer = _customer_of(session, row)
    if customer.restricted_at is None:
        raise ValidationError("This customer is not restricted.", field="kind")
    customer.restricted_at, customer.updated_at = None, utcnow()
    session.add(customer)
    row.response = ((row.response or "") + f"\nRestriction lifted with notice: {text}").strip()[:4000]
    return _save(session, actor, row, "privacy.restriction_lifted")


def _save(session: Session, actor: Actor, row: PrivacyRequest, action: str, **detail) -> RequestView:
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit_request(session, actor, row, action, **detail)
    return view_of(row, utcnow())
