"""Erasure as a pipeline: prepare, database, providers, verification, certificate.

Each step runs in its own transaction and records itself in the request's checkpoint,
so a crash resumes at the first unfinished step and running it again is harmless. The
identifiers the verification needs are kept in the checkpoint only while the erasure
is in flight (the scan skips that one cell) and are wiped by the certificate step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import KaimenError, ValidationError
from kaimen_core.messaging._text import phone_hash
from kaimen_core.models import (
    Booking,
    Business,
    ConsentEvent,
    Customer,
    Job,
    Message,
    PrivacyRequest,
    SuppressionEntry,
    WebhookEvent,
    utcnow,
)
from kaimen_core.privacy._requests import load_request
from kaimen_core.privacy._verify import needles_for, scan

__all__ = ["STEPS", "ErasureFailed", "ErasureResult", "ProviderErasers", "phone_hash", "run_erasure"]

STEPS = ("prepare", "database", "providers", "verification", "certificate")


class ErasureFailed(KaimenError):
    """An erasure step could not finish; the request stays in progress and can be re-run."""


@dataclass
class ProviderErasers:
    """How to delete the person's records held by providers (chosen from settings by default)."""

    delete_message: Callable[[str], None]
    delete_media: Callable[[str], None]
    message_service: str = "local outbox"


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What a run did: the request's status and the certificate once complete."""

    request_id: int
    status: str
    steps_done: list[str] = field(default_factory=list)
    certificate: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, str]] = field(default_factory=list)


def _default_erasers() -> ProviderErasers:
    from kaimen_core.providers import media, sms

    provider = sms.get_provider()
    return ProviderErasers(
        delete_message=provider.delete_message,
        delete_media=lambda ref: media.store_for(ref).delete(ref),
        message_service=type(provider).__name__,
    )


def _step_prepare(session: Session, row: PrivacyRequest, cp: dict[str, Any]) -> None:
    customer = session.get(Customer, row.customer_id) if row.customer_id is not None else None
    if customer is None:
        raise ErasureFailed("The customer this request concerns no longer exists; nothing to erase.")
    region = session.exec(select(Business.region).where(Business.id == row.business_id)).one()
    messages = session.exec(
        select(Message.id, Message.provider_sid, Message.media).where(
            Message.business_id == row.business_id, Message.customer_id == customer.id)
    ).all()
    cp["subject"] = {"customer_id": customer.id, "opted_out": customer.opted_out_at is not None,
                     "phone": customer.phone_e164,
                     "needles": needles_for(name=customer.name, phone_e164=customer.phone_e164,
                                            email=customer.email, region=region)}
    cp["message_ids"] = sorted(message_id for message_id, _, _ in messages)
    cp["provider_sids"] = sorted({sid for _, sid, _ in messages if sid})
    cp["media_refs"] = sorted({m["ref"] for _, _, media in messages for m in (media or []) if m.get("ref")})


# Twilio's delivery statuses: a status callback is stored under "<MessageSid>:<status>".
_STATUSES = ("accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed",
             "received", "receiving", "read", "canceled", "partially_delivered")


def _step_database(session: Session, row: PrivacyRequest, cp: dict[str, Any]) -> None:
    subject = cp["subject"]
    business, customer_id = row.business_id, subject["customer_id"]
    counts: dict[str, int] = {}
    if subject["opted_out"] and subject["phone"]:
        digest = phone_hash(business, subject["phone"])
        exists = session.exec(select(SuppressionEntry.id).where(
            SuppressionEntry.business_id == business, SuppressionEntry.phone_hash == digest)).first()
        if exists is None:
            session.add(SuppressionEntry(business_id=business, phone_hash=digest, reason="opt_out"))
        counts["suppression_kept"] = 1
    counts["messages"] = session.exec(delete(Message).where(
        Message.business_id == business, Message.customer_id == customer_id)).rowcount
    counts["consent_events"] = session.exec(delete(ConsentEvent).where(
        ConsentEvent.business_id == business, ConsentEvent.customer_id == customer_id)).rowcount
    counts["bookings_detached"] = session.exec(
        update(Booking).where(Booking.business_id == business, Booking.customer_id == customer_id)
        .values(customer_id=None, notes=None)).rowcount
    message_ids = cp.get("message_ids", [])
    counts["jobs"] = session.exec(delete(Job).where(
        Job.business_id == business, col(Job.status).in_(("queued", "running", "failed")),
        col(Job.payload)["message_id"].as_integer().in_(message_ids))).rowcount if message_ids else 0
    sids = cp.get("provider_sids", [])
    event_ids = [*sids, *(f"{sid}:{status}" for sid in sids for status in _STATUSES)]
    counts["webhook_payloads_cleared"] = session.exec(
        update(WebhookEvent).where(WebhookEvent.provider == "twilio", col(WebhookEvent.event_id).in_(event_ids))
        .values(payload={"erased": True})).rowcount if event_ids else 0
    others = session.exec(select(PrivacyRequest).where(
        PrivacyRequest.business_id == business, PrivacyRequest.customer_id == customer_id)).all()
    for other in others:
        other.requester_name = other.requester_contact = None
        session.add(other)
    counts["request_records_scrubbed"] = len(others)
    counts["customers"] = session.exec(delete(Customer).where(
        Customer.business_id == business, Customer.id == customer_id)).rowcount
    row.requester_name = row.requester_contact = None
    cp["database"] = counts


def _step_providers(
    _session: Session, _row: PrivacyRequest, cp: dict[str, Any], erasers: ProviderErasers
) -> str | None:
    done = set(cp.get("providers_done", []))
    failure = None
    try:
        for sid in cp.get("provider_sids", []):
            if sid not in done:
                erasers.delete_message(sid)
                done.add(sid)
        for ref in cp.get("media_refs", []):
            if ref not in done:
                erasers.delete_media(ref)
                done.add(ref)
    except Exception as exc:  # a provider failed: keep the progress, resume later
        failure = f"A provider did not confirm a deletion ({type(exc).__name__}); run the erasure again."
    cp["providers_done"] = sorted(done)
    cp["providers"] = {"service": erasers.message_service, "message_records": len(cp.get("provider_sids", [])),
                       "media": len(cp.get("media_refs", []))}
    return failure


def _step_verification(session: Session, row: PrivacyRequest, cp: dict[str, Any]) -> str | None:
    started = utcnow()
    findings = scan(session, business_id=row.business_id, needles=cp["subject"]["needles"],
                    skip={("privacy_requests", "checkpoint", str(row.id))})
    cp["verification"] = {"hits": len(findings), "seconds": round((utcnow() - started).total_seconds(), 3),
                          "findings": [asdict(f) for f in findings]}
    if not findings:
        return None
    places = ", ".join(sorted({f"{f.table}.{f.column} ({f.matched})" for f in findings}))
    return (f"Verification found {len(findings)} remaining trace(s) of the person: {places}. "
            "The request stays in progress; remove them and run the erasure again.")


def _step_certificate(_session: Session, row: PrivacyRequest, cp: dict[str, Any], actor: Actor) -> None:
    now = utcnow()
    row.certificate = {
        "request": row.id, "business": row.business_id, "subject": row.subject_ref, "kind": "erasure",
        "removed": {"database": cp.get("database", {}), "providers": cp.get("providers", {})},
        "verification": {"hits": cp["verification"]["hits"], "seconds": cp["verification"]["seconds"],
                         "scope": "every text and JSON column of every table"},
        "started_at": cp.get("started_at"), "completed_at": now.isoformat(), "run_by": actor.label,
    }
    cp.pop("subject", None)
    row.status, row.completed_at = "completed", now
    row.response = row.response or "Erased; completion certificate issued."


def _check(session: Session, actor: Actor, request_id: int) -> PrivacyRequest:
    actor.require("owner", "operator")
    row = load_request(session, actor=actor, request_id=request_id)
    if row.kind != "deletion":
        raise ValidationError("Only a deletion request runs an erasure.", field="kind")
    if row.status == "completed":
        return row
    if row.status not in ("verified", "in_progress") or row.verified_at is None:
        raise ValidationError("Verify the person's identity before erasing.", field="status")
    return row


def _run_step(step: str, *, actor: Actor, request_id: int, business_id: int, engine: Engine | None,
              erasers: ProviderErasers | None) -> str | None:
    """One step in one transaction; its changes and its checkpoint commit together."""
    with db.system_session(engine=engine) as session:
        row = session.exec(select(PrivacyRequest).where(
            PrivacyRequest.id == request_id, PrivacyRequest.business_id == business_id)).one()
        cp = dict(row.checkpoint or {})
        done = list(cp.get("done", []))
        if step in done:
            return None
        cp.setdefault("started_at", utcnow().isoformat())
        failure = None
        try:
            with session.begin_nested():
                if step == "prepare":
                    _step_prepare(session, row, cp)
                elif step == "database":
                    _step_database(session, row, cp)
                elif step == "providers":
                    failure = _step_providers(session, row, cp, erasers or _default_erasers())
                elif step == "verification":
                    failure = _step_verification(session, row, cp)
                else:
                    _step_certificate(session, row, cp, actor)
        except ErasureFailed as exc:
            failure = str(exc)
        if not failure:
            done.append(step)
        cp["done"], cp["last_error"] = done, failure
        row.checkpoint, row.updated_at = cp, utcnow()
        if row.status != "completed":
            row.status = "in_progress"
        session.add(row)
        audit.record(session, actor=actor, action=f"privacy.erasure.{step}" + (".failed" if failure else ""),
                     business_id=business_id, target_type="privacy_request", target_id=request_id)
        return failure


def run_erasure(
    *, actor: Actor, request_id: int, engine: Engine | None = None, erasers: ProviderErasers | None = None,
    stop_after: str | None = None,
) -> ErasureResult:
    """Run (or resume) a deletion request's erasure. ``stop_after`` stops early (tests of resuming)."""
    with db.tenant_session(actor, engine=engine) as session:
        row = _check(session, actor, request_id)
        if row.status == "completed":
            return ErasureResult(row.id, row.status, list(STEPS), dict(row.certificate))
        business_id = row.business_id
    for step in STEPS:
        failure = _run_step(step, actor=actor, request_id=request_id, business_id=business_id, engine=engine,
                            erasers=erasers)
        if failure:
            raise ErasureFailed(failure)
        if stop_after == step:
            break
    with db.system_session(engine=engine) as session:
        row = session.get(PrivacyRequest, request_id)
        findings = (row.checkpoint or {}).get("verification", {}).get("findings", [])
        return ErasureResult(row.id, row.status, list((row.checkpoint or {}).get("done", [])),
                             dict(row.certificate or {}), findings)
