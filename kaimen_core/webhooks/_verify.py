"""Verify, the first stage: a request's size, its content type, then the provider's signature on the raw body.

The body is read from the request's stream and reading stops as soon as it passes the
provider's limit, whether the request declared its length or sent it in chunks: 413,
never a body held whole first. A declared length over the limit is refused before any of
it is read. A body of another content type is refused 400. Then the provider's
:class:`~kaimen_core.webhooks.Verifier` checks the signature on the raw body and reads
the event out of it (or refuses it: 403 for a signature, 400 for a malformed body).
Malformed requests (413, 400) are recorded as ``webhook.rejected`` system events with
the path, reason and status only; nothing is recorded for a refused signature, so
unsigned traffic cannot fill the audit log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM
from kaimen_core.webhooks._provider import Provider, Refusal, VerifiedEvent, Verifier, WebhookRequest

__all__ = ["read_body", "record_refusal", "verify"]


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


def record_refusal(provider: Provider, path: str, refusal: Refusal) -> None:
    """The system event for a malformed request: the provider, path, reason and status, nothing from the body."""
    with db.system_session() as session:
        audit.record(session, actor=SYSTEM, action="webhook.rejected", business_id=None, target_type=provider.name,
                     detail={"path": path, "reason": refusal.reason, "status": refusal.status})
