"""The sidecar's request path for every provider: verify, store, answer. One :class:`WebhookReceiver` per process.

The sidecar (``webhooks/app.py``) hands over the path, query, headers and the body's
stream; the receiver finds the provider by path, reads and verifies the request
(``_verify``), stores the event (``_store``'s group commit, through the process's engine)
and answers the provider's reply once the event is committed. An event that could not
be stored is answered 503, never acknowledged, so the provider sees a failure rather
than a delivery. The worker applies stored events later (``_apply``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence

from sqlalchemy import Engine

from kaimen_core.logs import failure_reason
from kaimen_core.webhooks._provider import Provider, Refusal, Reply, Verifier
from kaimen_core.webhooks._store import GroupCommit
from kaimen_core.webhooks._verify import RefusalLog, read_body, record_refusals, verify

__all__ = ["NOT_STORED", "WebhookReceiver"]

NOT_STORED = Reply(503, "the event could not be stored; try again")
log = logging.getLogger(__name__)


class WebhookReceiver:
    """Verifies, stores and answers the requests of ``providers``; built once per sidecar process."""

    def __init__(self, providers: Sequence[Provider], *, engine: Engine | None = None) -> None:
        self.routes = {path: provider for provider in providers for path in provider.paths}
        self.verifiers: dict[str, Verifier] = {provider.name: provider.verifier(engine=engine)
                                               for provider in providers}
        self.store = GroupCommit(engine=engine)
        self.refusals = RefusalLog()

    async def receive(self, *, path: str, query: str, headers: Mapping[str, str],
                      chunks: AsyncIterator[bytes]) -> Reply:
        """The reply to one request on one of the providers' paths (header names in lower case)."""
        provider = self.routes[path]
        body = await read_body(chunks, declared_length=headers.get("content-length"), limit=provider.max_body_bytes)
        checked = body if isinstance(body, Refusal) else await verify(
            provider, self.verifiers[provider.name], path=path, query=query, headers=headers, body=body)
        if isinstance(checked, Refusal):
            if checked.recorded:
                await self._record(self.refusals.note(provider, path, checked))
            return checked.reply()
        try:
            await self.store.store(provider.name, checked)
        except Exception as exc:  # not stored, so not acknowledged
            log.error("a %s %s event could not be stored: %s", provider.name, checked.kind, failure_reason(exc))
            return NOT_STORED
        return provider.accepted

    async def _record(self, counts) -> None:
        if not counts:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, record_refusals, counts)
        except Exception as exc:  # the refusals stand; only their record is missing
            log.error("refused webhook requests could not be recorded: %s", failure_reason(exc))

    async def aclose(self) -> None:
        """Finish the stores in flight, write the refusals counted, then close the verifiers."""
        await self.store.aclose()
        await self._record(self.refusals.drain())
        for verifier in self.verifiers.values():
            await verifier.aclose()
