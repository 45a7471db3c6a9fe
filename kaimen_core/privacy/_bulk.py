"""Erasures in bulk, for operators: the operator page and ``python -m kaimen_core privacy erase``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kaimen_core.actors import Actor
from kaimen_core.exceptions import KaimenError, ValidationError
from kaimen_core.privacy._erasure import ProviderErasers, run_erasure

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
    erasers: ProviderErasers | None = None,
) -> list[BulkResult]:
    """Run (or resume) each erasure in turn; one failure does not stop the others."""
    ids = list(request_ids)
    results: list[BulkResult] = []
    for done, request_id in enumerate(ids, start=1):
        try:
            result = run_erasure(actor=actor, request_id=request_id, erasers=erasers)
            outcome = BulkResult(request_id, result.status,
                                 f"verified, {result.certificate.get('verification', {}).get('hits', 0)} traces left")
        except KaimenError as exc:
            outcome = BulkResult(request_id, "failed", str(exc))
        results.append(outcome)
        if on_progress:
            on_progress(done, len(ids), outcome)
    return results
