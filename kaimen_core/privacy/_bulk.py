"""Erasures in bulk, for operators: the operator page and ``python -m kaimen_core privacy erase``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import col, select

from kaimen_core import db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import KaimenError, NotFound, ValidationError
from kaimen_core.models import PrivacyRequest
from kaimen_core.privacy._erasure import PIPELINE, ProviderErasers, ready, run_steps
from kaimen_core.privacy._requests import load_requests

__all__ = ["COMMAND_LINE_OPERATOR", "BulkResult", "erase_requests", "read_request_ids"]

#: Who the audit log names for erasures run from the command line.
COMMAND_LINE_OPERATOR = Actor(role="operator", username="command-line", display_name="Kaimen command line")


@dataclass(frozen=True, slots=True)
class BulkResult:
    """One request's outcome in a bulk run."""

    request_id: int
    status: str  # completed, or failed
    detail: str


def read_request_ids(path: Path) -> list[int]:
    """Request ids from a file: one per line (commas and blank lines allowed, '#' starts a comment)."""
    ids: list[int] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValidationError(f"Cannot read {path}: {exc.strerror}.", field="requests_file") from None
    for number, line in enumerate(lines, start=1):
        for token in line.split("#", 1)[0].replace(",", " ").split():
            if not token.isdigit():
                raise ValidationError(f"{path}, line {number}: {token!r} is not a request id.", field="requests_file")
            ids.append(int(token))
    if not ids:
        raise ValidationError(f"{path} names no request ids.", field="requests_file")
    return list(dict.fromkeys(ids))


def erase_requests(
    request_ids: Iterable[int], *, actor: Actor, on_progress: Callable[[int, int, BulkResult], None] | None = None,
    erasers: ProviderErasers | None = None, batch_size: int = 2000, engine: Engine | None = None,
    timings: dict[str, float] | None = None,
) -> list[BulkResult]:
    """Run (or resume) each erasure; one failure does not stop the others.

    Requests are taken a batch of one business at a time: each step runs for the whole
    batch in one transaction (providers: one request at a time, through the adapters)
    and the batch is verified in one pass over the business's data. ``on_progress`` is
    called once per request, as its outcome is known; ``timings``, if given, gathers the
    seconds spent in each step (and in checking the requests). Results come back in the order of ``request_ids``.
    """
    ids = list(dict.fromkeys(request_ids))
    outcomes: dict[int, BulkResult] = {}

    def report(outcome: BulkResult) -> None:
        outcomes[outcome.request_id] = outcome
        if on_progress:
            on_progress(len(outcomes), len(ids), outcome)

    businesses: dict[int, list[tuple[int, int | None]]] = {}
    started = time.perf_counter()
    with db.tenant_session(actor, engine=engine) as session:
        refused: KaimenError | None = None
        try:
            actor.require("owner", "operator")
            found = load_requests(session, actor=actor, request_ids=ids)
        except KaimenError as exc:  # the actor may not erase at all: every request says why
            found, refused = {}, exc
        for request_id in ids:
            try:
                if refused is not None:
                    raise refused
                if request_id not in found:
                    raise NotFound("No such privacy request.")
                row = ready(found[request_id])
            except KaimenError as exc:
                report(BulkResult(request_id, "failed", str(exc)))
                continue
            if row.status == "completed":
                report(_completed(row.id, row.certificate))
            else:
                businesses.setdefault(row.business_id, []).append((row.id, row.customer_id))
    if timings is not None:
        timings["checks"] = timings.get("checks", 0.0) + time.perf_counter() - started
    for business_id, waiting in businesses.items():
        for batch in _batches(waiting, batch_size):
            for step in PIPELINE:
                started = time.perf_counter()
                failures = run_steps(step, actor=actor, business_id=business_id, request_ids=batch, engine=engine,
                                     erasers=erasers)
                if timings is not None:
                    timings[step.name] = timings.get(step.name, 0.0) + time.perf_counter() - started
                for request_id in batch:
                    if failures.get(request_id):
                        report(BulkResult(request_id, "failed", failures[request_id]))
                batch = [request_id for request_id in batch if not failures.get(request_id)]
            with db.system_session(engine=engine) as session:
                certificates = dict(session.exec(select(PrivacyRequest.id, PrivacyRequest.certificate).where(
                    col(PrivacyRequest.id).in_(batch))).all())
            for request_id in batch:
                report(_completed(request_id, certificates[request_id]))
    return [outcomes[request_id] for request_id in ids]


def _batches(waiting: list[tuple[int, int | None]], size: int) -> Iterator[list[int]]:
    """Batches of at most ``size`` requests, never two for the same customer in one batch.

    A second request for a customer runs after the first, as it would one at a time.
    """
    while waiting:
        batch: list[int] = []
        later: list[tuple[int, int | None]] = []
        customers: set[int] = set()
        for request_id, customer_id in waiting:
            if len(batch) < size and customer_id not in customers:
                batch.append(request_id)
                if customer_id is not None:
                    customers.add(customer_id)
            else:
                later.append((request_id, customer_id))
        yield batch
        waiting = later


def _completed(request_id: int, certificate: dict | None) -> BulkResult:
    hits = (certificate or {}).get("verification", {}).get("hits", 0)
    return BulkResult(request_id, "completed", f"verified, {hits} traces left")
