"""Verify, the first stage: a request's size, its content type, then the provider's signature on the raw body.

The body is read from the request's stream and reading stops as soon as it passes the
provider's limit, whether the request declared its length or sent it in chunks: 413,
never a body held whole first. A declared length over the limit is refused before any of
it is read. A body of another content type is refused 400. Then the provider's
:class:`~kaimen_core.webhooks.Verifier` checks the signature on the raw body and reads
the event out of it (or refuses it: 403 for a signature, 400 for a malformed body).
Malformed requests (413, 400) are recorded as ``webhook.rejected`` system events with
the path, reason, status and a count, at most one write a minute (:class:`RefusalLog`);
nothing is recorded for a refused signature, so unsigned traffic cannot fill the audit log.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM
from kaimen_core.webhooks._provider import Provider, Refusal, VerifiedEvent, Verifier, WebhookRequest

__all__ = ["RefusalLog", "read_body", "record_refusals", "verify"]


def _too_large(limit: int) -> Refusal:
    return Refusal(413, f"body over {limit // 1024} KB", recorded=True)


async def read_body(chunks: AsyncIterator[bytes], *, declared_length: str | None, limit: int) -> bytes | Refusal:
    """The body from its stream, or a 413 refusal once it passes ``limit`` bytes (the rest is never read)."""
    if declared_length and declared_length.strip().isdigit() and int(declared_length) > limit:
        return _too_large(limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            return _too_large(limit)
    return bytes(body)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def verify(provider: Provider, verifier: Verifier, *, path: str, query: str, headers: Mapping[str, str],
                 body: bytes) -> VerifiedEvent | Refusal:
    """The verified event in a request whose body was read within the limit, or why it is refused."""
    if _media_type(headers.get("content-type")) != provider.content_type:
        return Refusal(400, f"body is not {provider.content_type}", recorded=True)
    return await verifier.verify(WebhookRequest(path, query, headers, body))


class RefusalLog:
    """Malformed requests as ``webhook.rejected`` system events, at most one write a minute.

    Anyone can send the sidecar a malformed request, so a row per request would let a
    stranger fill the audit log. The first refusal after a quiet minute is written at
    once (with its count, 1); later ones are counted by provider, path, reason and status,
    and written as one event per kind with its count when the next minute's first refusal
    comes, or when the sidecar stops. Used from one event loop.
    """

    def __init__(self, *, every_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_seconds = every_seconds
        self.clock = clock
        self.window_started: float | None = None
        self.counted: Counter[tuple[str, str, str, int]] = Counter()

    def note(self, provider: Provider, path: str, refusal: Refusal) -> list[tuple[tuple[str, str, str, int], int]]:
        """Count one refusal; the ``(kind, count)`` events to write now (none while a minute is open)."""
        kind = (provider.name, path, refusal.reason, refusal.status)
        now = self.clock()
        if self.window_started is not None and now - self.window_started < self.every_seconds:
            self.counted[kind] += 1
            return []
        self.window_started = now
        return [*self.drain(), (kind, 1)]

    def drain(self) -> list[tuple[tuple[str, str, str, int], int]]:
        """The counts not yet written, emptied."""
        counted, self.counted = self.counted, Counter()
        return sorted(counted.items())


def record_refusals(counts: list[tuple[tuple[str, str, str, int], int]]) -> None:
    """The system events for counted refusals: provider, path, reason, status and count, nothing from a body."""
    if not counts:
        return
    with db.system_session() as session:
        for (provider, path, reason, status), count in counts:
            audit.record(session, actor=SYSTEM, action="webhook.rejected", business_id=None, target_type=provider,
                         detail={"path": path, "reason": reason, "status": status, "count": count})
