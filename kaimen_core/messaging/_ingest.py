"""The request path of Twilio's webhooks: check, store the raw event durably once, answer.

:class:`TwilioWebhooks` is what the sidecar holds for its lifetime (one per process).
A request is checked without the database (``_inbound.check_twilio``); a verified one
is handed to the :class:`EventWriter` and answered only once its event has committed,
so an event Twilio was told is delivered is never lost. The worker applies stored
events later (``_events``).

Group commit: the writer drains every request waiting at that moment into ONE
multi-row ``INSERT ... ON CONFLICT (provider, event_id) DO NOTHING`` and one commit,
on one thread of its own, then wakes each waiting request. While a batch commits the
next one gathers, so concurrent requests share transactions and the database's
commit (fsync) cost is paid per batch, not per request. A duplicate delivery of the
same MessageSid conflicts and is dropped by the database, in the same batch or a later
one. On SQLite the same batch runs in a ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kaimen_core import db
from kaimen_core.messaging._inbound import TwilioEvent, WebhookReply, check_twilio, record_rejection
from kaimen_core.models import WebhookEvent

__all__ = ["EventWriter", "TwilioWebhooks", "store_events"]

_TABLE = WebhookEvent.__table__
_ACCEPTED = WebhookReply(200)
_UNAVAILABLE = WebhookReply(503, "the event could not be stored; try again", "text/plain")
log = logging.getLogger(__name__)


def store_events(events: Sequence[TwilioEvent], *, engine: Engine | None = None) -> None:
    """Insert raw events as ``received`` in one statement and one commit; known ids are skipped."""
    if not events:
        return
    rows = [{"provider": "twilio", "event_id": e.event_id, "kind": e.kind, "payload": e.payload,
             "status": "received", "received_at": e.received_at} for e in events]
    with db.system_session(engine=engine) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(_TABLE).on_conflict_do_nothing(index_elements=["provider", "event_id"])
        session.connection().execute(statement, rows)


# PostgreSQL's hot path: one constant statement (prepared by psycopg after a few runs) whatever the
# batch size, sent with the transaction's scope and its commit in one pipeline (one round trip).
_PG_SCOPE = "SELECT set_config('app.business_id', '', true), set_config('app.cross_tenant', 'on', true)"
_PG_INSERT = (
    "INSERT INTO webhook_events (provider, event_id, kind, payload, status, received_at) "
    "SELECT 'twilio', e.event_id, e.kind, e.payload::jsonb, 'received', e.received_at "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[]) AS e(event_id, kind, payload, received_at) "
    "ON CONFLICT (provider, event_id) DO NOTHING"
)


class _PostgresBatches:
    """The writer thread's own connection (from the engine's pool), kept between batches."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pooled: Any = None

    def write(self, events: Sequence[TwilioEvent]) -> None:
        if self.pooled is None:
            self.pooled = self.engine.raw_connection()
        connection = self.pooled.driver_connection
        columns = ([e.event_id for e in events], [e.kind for e in events],
                   [json.dumps(e.payload, separators=(",", ":")) for e in events], [e.received_at for e in events])
        try:
            with connection.pipeline():
                connection.execute(_PG_SCOPE)
                connection.execute(_PG_INSERT, columns)
                connection.commit()
        except Exception:
            self.close(invalidate=True)
            raise

    def close(self, *, invalidate: bool = False) -> None:
        if self.pooled is not None:
            if invalidate:
                self.pooled.invalidate()
            self.pooled.close()
            self.pooled = None


class EventWriter:
    """Stores events for many concurrent requests with one insert and one commit per batch.

    Used from one asyncio event loop; the database work runs on the writer's own thread.
    """

    def __init__(self, *, engine: Engine | None = None, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[tuple[TwilioEvent, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaimen-event-writer")
        self._postgres: _PostgresBatches | None = None

    async def store(self, event: TwilioEvent) -> None:
        """Return once ``event`` is committed (or was stored before); raise if the database refused."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((event, done))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                try:
                    await loop.run_in_executor(self._thread, self._write, [event for event, _ in batch])
                except Exception as exc:  # every request of the batch answers with the failure
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._task = None

    def _write(self, events: list[TwilioEvent]) -> None:
        """On the writer's thread: one batch, committed."""
        engine = self.engine or db.get_engine()
        if engine.dialect.name != "postgresql":
            store_events(events, engine=engine)
            return
        if self._postgres is None or self._postgres.engine is not engine:
            if self._postgres is not None:
                self._postgres.close()
            self._postgres = _PostgresBatches(engine)
        self._postgres.write(events)

    def _close(self) -> None:
        if self._postgres is not None:
            self._postgres.close()
            self._postgres = None

    async def aclose(self) -> None:
        """Finish the batches in flight, return the connection, then stop the writer's thread."""
        while self._task is not None:
            await asyncio.shield(self._task)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)


class TwilioWebhooks:
    """Twilio's webhook requests for one sidecar process: checked, stored once, answered."""

    def __init__(self, *, engine: Engine | None = None) -> None:
        self.writer = EventWriter(engine=engine)

    async def handle(self, *, path: str, query: str, content_type: str | None, body: bytes,
                     signature: str | None) -> WebhookReply:
        """The reply for one request: empty TwiML once the event is stored, or why it was refused."""
        checked = check_twilio(path=path, query=query, content_type=content_type, body=body, signature=signature)
        if isinstance(checked, WebhookReply):
            if checked.rejected:
                await asyncio.get_running_loop().run_in_executor(None, record_rejection, path, checked)
            return checked
        try:
            await self.writer.store(checked)
        except Exception:  # not stored, so not acknowledged: Twilio sees a failure, not a delivery
            log.exception("a %s event could not be stored", checked.kind)
            return _UNAVAILABLE
        return _ACCEPTED

    async def aclose(self) -> None:
        await self.writer.aclose()
