"""Erasure as a pipeline: prepare, database, providers, verification, certificate.

Each step records itself in the request's checkpoint in the same transaction as its
changes, so a crash resumes at the first unfinished step and running it again is
harmless. Several requests of one business can take a step together (bulk erasure):
one transaction then holds that step for all of them, and their verification is one
pass over the business's data. The identifiers the verification needs are kept in the
checkpoint only while the erasure is in flight (the scan skips the checkpoints of the
requests it verifies) and are wiped by the certificate step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.customers import forget_customers
from kaimen_core.exceptions import ConfigurationError, KaimenError, ValidationError
from kaimen_core.messaging._text import phone_hash
from kaimen_core.models import PrivacyRequest, utcnow
from kaimen_core.privacy import _erasure_steps as steps
from kaimen_core.privacy._erasure_steps import ProviderErasers
from kaimen_core.privacy._requests import load_request

__all__ = ["STEPS", "ErasureFailed", "ErasureResult", "ProviderErasers", "phone_hash", "run_erasure"]

STEPS = ("prepare", "database", "providers", "verification", "certificate")


class ErasureFailed(KaimenError):
    """An erasure step could not finish; the request stays in progress and can be re-run."""


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """What a run did: the request's status and the certificate once complete."""

    request_id: int
    status: str
    steps_done: list[str] = field(default_factory=list)
    certificate: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, str]] = field(default_factory=list)


def _default_erasers(session: Session, business_id: int) -> ProviderErasers:
    """The providers' deletions chosen by settings; a business's own Twilio account deletes its texts."""
    from kaimen_core.messaging._accounts import own_account
    from kaimen_core.providers import media, sms

    provider, service = sms.get_provider(), None
    own = own_account(session, business_id)
    if own is not None and own.auth_token is not None:
        provider = sms.account_provider(own.account_sid, own.auth_token)
        service = f"{type(provider).__name__} (the business's own account)"
    delete_message = provider.delete_message
    if own is not None and own.auth_token is None:
        def delete_message(_sid: str) -> None:
            raise ConfigurationError("The business's Twilio auth token cannot be read: its owner must enter it "
                                     "again on the Messaging page before its texts can be deleted at Twilio.")
    return ProviderErasers(
        delete_message=delete_message,
        delete_media=lambda ref: media.store_for(ref).delete(ref),
        message_service=service or type(provider).__name__,
    )


def erasable(session: Session, actor: Actor, request_id: int) -> PrivacyRequest:
    """The request, if the actor may erase it now (or it is already completed)."""
    actor.require("owner", "operator")
    return ready(load_request(session, actor=actor, request_id=request_id))


def ready(row: PrivacyRequest) -> PrivacyRequest:
    """The request, if it is a deletion that may run now (or has completed)."""
    if row.kind != "deletion":
        raise ValidationError("Only a deletion request runs an erasure.", field="kind")
    if row.status == "completed":
        return row
    if row.status not in ("verified", "in_progress") or row.verified_at is None:
        raise ValidationError("Verify the person's identity before erasing.", field="status")
    return row


def run_steps(step: str, *, actor: Actor, business_id: int, request_ids: Sequence[int],
              engine: Engine | None = None, erasers: ProviderErasers | None = None) -> dict[int, str | None]:
    """One step for requests of one business, in one transaction; returns each one's failure (or None).

    Every request's changes and its checkpoint commit together, so a crash rolls the
    step back for all of them and they resume at that step. The providers step commits
    after each request that called a provider, so a deletion made is a deletion recorded.
    A request that has done the step is left alone.
    """
    with db.system_session(engine=engine) as session:
        rows = {row.id: row for row in steps.chunked(request_ids, lambda ids: session.exec(select(PrivacyRequest).where(
            col(PrivacyRequest.id).in_(ids), PrivacyRequest.business_id == business_id)))}
        todo = [rows[i] for i in request_ids if step not in (rows[i].checkpoint or {}).get("done", [])]
        if not todo:
            return {}
        cps = {row.id: dict(row.checkpoint or {}) for row in todo}
        for cp in cps.values():
            cp.setdefault("started_at", utcnow().isoformat())
        failures: dict[int, str | None] = {}
        if step == "prepare":
            failures.update(steps.prepare(session, todo, cps))
        elif step == "database":
            steps.database(session, todo, cps)
            # the search blocks forget the customers in this transaction, not at the worker's next fold
            forget_customers(session, business_id=business_id,
                             customer_ids=[cps[row.id]["subject"]["customer_id"] for row in todo])
        elif step == "verification":
            failures.update(steps.verification(session, todo, cps, in_flight=list(rows)))
        elif step == "providers":
            erasers = erasers or _default_erasers(session, business_id)
            _without_waiting_for_the_disk(session)
        for row in todo:
            cp = cps[row.id]
            if step == "providers":
                failures[row.id] = steps.providers(cp, erasers)
            elif step == "certificate":
                steps.certificate(row, cp, actor)
            failure = failures.get(row.id)
            cp["done"] = [*cp.get("done", []), *([] if failure else [step])]
            cp["last_error"] = failure
            row.checkpoint, row.updated_at = cp, utcnow()
            if row.status != "completed":
                row.status = "in_progress"
            session.add(row)
            audit.record(session, actor=actor, action=f"privacy.erasure.{step}" + (".failed" if failure else ""),
                         business_id=business_id, target_type="privacy_request", target_id=row.id, flush=False)
            if step == "providers" and (cp.get("provider_sids") or cp.get("media_refs")):
                session.commit()
                _without_waiting_for_the_disk(session)
        return {row.id: failures.get(row.id) for row in todo}


def _without_waiting_for_the_disk(session: Session) -> None:
    """Commit provider progress without waiting for the disk (PostgreSQL).

    A crash of the application loses nothing; a crash of the database server may lose
    the last moment's records, and the resumed erasure asks the provider again, which
    counts a record already gone as deleted (Twilio's 404, Cloudinary's "not found").
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def run_erasure(
    *, actor: Actor, request_id: int, engine: Engine | None = None, erasers: ProviderErasers | None = None,
    stop_after: str | None = None,
) -> ErasureResult:
    """Run (or resume) a deletion request's erasure. ``stop_after`` stops early (tests of resuming)."""
    with db.tenant_session(actor, engine=engine) as session:
        row = erasable(session, actor, request_id)
        if row.status == "completed":
            return ErasureResult(row.id, row.status, list(STEPS), dict(row.certificate))
        business_id = row.business_id
    for step in STEPS:
        failure = run_steps(step, actor=actor, business_id=business_id, request_ids=[request_id], engine=engine,
                            erasers=erasers).get(request_id)
        if failure:
            raise ErasureFailed(failure)
        if stop_after == step:
            break
    with db.system_session(engine=engine) as session:
        row = session.get(PrivacyRequest, request_id)
        findings = (row.checkpoint or {}).get("verification", {}).get("findings", [])
        return ErasureResult(row.id, row.status, list((row.checkpoint or {}).get("done", [])),
                             dict(row.certificate or {}), findings)
