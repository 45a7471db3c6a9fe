"""Erasure as a pipeline: prepare, database, providers, verification, certificate.

:data:`PIPELINE` is the table of :class:`Step` objects (the work in ``_erasure_steps``);
:func:`run_steps` runs one of them for a batch of requests, owning the transaction, the
checkpoints, the request's status and the audit trail.

Each step records itself in the request's checkpoint in the same transaction as its
changes, so a crash resumes at the first unfinished step and running it again is
harmless. Several requests of one business can take a step together (bulk erasure):
one transaction then holds that step for all of them, and their verification is one
pass over the business's data. The identifiers the verification needs are kept in the
checkpoint only while the erasure is in flight (the scan skips the checkpoints of the
requests it verifies) and are wiped by the certificate step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.customers import forget_customers
from kaimen_core.exceptions import ConfigurationError, KaimenError, ValidationError
from kaimen_core.messaging import own_account, phone_hash
from kaimen_core.models import PrivacyRequest, utcnow
from kaimen_core.privacy import _erasure_steps as steps
from kaimen_core.privacy._erasure_steps import ProviderErasers
from kaimen_core.privacy._requests import load_request

__all__ = ["PIPELINE", "STEPS", "ErasureFailed", "ErasureResult", "ProviderErasers", "Step", "phone_hash",
           "run_erasure"]


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


@dataclass
class StepContext:
    """What a step works with: one business's requests that have not done it yet (``todo``,
    with their working checkpoints ``cps``), every request run together (``in_flight``),
    the session of the step's transaction, and who runs it."""

    session: Session
    actor: Actor
    business_id: int
    todo: list[PrivacyRequest]
    cps: dict[int, dict[str, Any]]
    in_flight: list[int]
    erasers: ProviderErasers | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the erasure: what it does for all its requests at once (``for_batch``,
    the failures by request) and then for each (``for_one``, its failure or None).

    ``commit_each``: commit after each request that called a provider, so a deletion made
    is a deletion recorded; otherwise the step's changes and every checkpoint commit together.
    """

    name: str
    for_batch: Callable[[StepContext], dict[int, str]] | None = None
    for_one: Callable[[StepContext, PrivacyRequest, dict[str, Any]], str | None] | None = None
    commit_each: bool = False


def _database(context: StepContext) -> dict[int, str]:
    session, business_id = context.session, context.business_id
    steps.database(session, context.todo, context.cps)
    # the search blocks forget the customers in this transaction, not at the worker's next
    # fold: the verification that follows reads every table
    forget_customers(session, business_id=business_id,
                     customer_ids=[context.cps[row.id]["subject"]["customer_id"] for row in context.todo])
    return {}


def _open_providers(context: StepContext) -> dict[int, str]:
    context.erasers = context.erasers or _default_erasers(context.session, context.business_id)
    _without_waiting_for_the_disk(context.session)
    return {}


#: The erasure, step by step, in order.
PIPELINE = (
    Step("prepare", for_batch=lambda c: steps.prepare(c.session, c.todo, c.cps)),
    Step("database", for_batch=_database),
    Step("providers", for_batch=_open_providers, for_one=lambda c, row, cp: steps.providers(cp, c.erasers),
         commit_each=True),
    Step("verification", for_batch=lambda c: steps.verification(c.session, c.todo, c.cps, in_flight=c.in_flight)),
    Step("certificate", for_one=lambda c, row, cp: steps.certificate(row, cp, c.actor)),
)
STEPS = tuple(step.name for step in PIPELINE)


def run_steps(step: Step, *, actor: Actor, business_id: int, request_ids: Sequence[int],
              engine: Engine | None = None, erasers: ProviderErasers | None = None) -> dict[int, str | None]:
    """One step for requests of one business, in one transaction; returns each one's failure (or None).

    Every request's changes and its checkpoint commit together, so a crash rolls the
    step back for all of them and they resume at that step (a ``commit_each`` step
    commits after each request that called a provider). A request that has done the
    step is left alone.
    """
    with db.system_session(engine=engine) as session:
        rows = {row.id: row for row in steps.chunked(request_ids, lambda ids: session.exec(select(PrivacyRequest).where(
            col(PrivacyRequest.id).in_(ids), PrivacyRequest.business_id == business_id)))}
        todo = [rows[i] for i in request_ids if step.name not in (rows[i].checkpoint or {}).get("done", [])]
        if not todo:
            return {}
        context = StepContext(session, actor, business_id, todo, {row.id: dict(row.checkpoint or {}) for row in todo},
                              in_flight=list(rows), erasers=erasers)
        for cp in context.cps.values():
            cp.setdefault("started_at", utcnow().isoformat())
        failures: dict[int, str | None] = dict(step.for_batch(context)) if step.for_batch else {}
        for row in todo:
            cp = context.cps[row.id]
            if step.for_one:
                failures[row.id] = step.for_one(context, row, cp)
            _checkpoint(session, actor, row, cp, step.name, failures.get(row.id))
            if step.commit_each and (cp.get("provider_sids") or cp.get("media_refs")):
                session.commit()
                _without_waiting_for_the_disk(session)
        return {row.id: failures.get(row.id) for row in todo}


def _checkpoint(session: Session, actor: Actor, row: PrivacyRequest, cp: dict[str, Any], step: str,
                failure: str | None) -> None:
    """The request's checkpoint and status after ``step``, and its audit event, in the step's transaction."""
    cp["done"] = [*cp.get("done", []), *([] if failure else [step])]
    cp["last_error"] = failure
    row.checkpoint, row.updated_at = cp, utcnow()
    if row.status != "completed":
        row.status = "in_progress"
    session.add(row)
    audit.record(session, actor=actor, action=f"privacy.erasure.{step}" + (".failed" if failure else ""),
                 business_id=row.business_id, target_type="privacy_request", target_id=row.id, flush=False)


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
    for step in PIPELINE:
        failure = run_steps(step, actor=actor, business_id=business_id, request_ids=[request_id], engine=engine,
                            erasers=erasers).get(request_id)
        if failure:
            raise ErasureFailed(failure)
        if stop_after == step.name:
            break
    with db.system_session(engine=engine) as session:
        row = session.get(PrivacyRequest, request_id)
        findings = (row.checkpoint or {}).get("verification", {}).get("findings", [])
        return ErasureResult(row.id, row.status, list((row.checkpoint or {}).get("done", [])),
                             dict(row.certificate or {}), findings)
