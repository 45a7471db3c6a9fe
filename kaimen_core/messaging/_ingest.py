"""The request path of Twilio's webhooks: check, store the raw event durably once, answer.

:class:`TwilioWebhooks` is what the sidecar holds for its lifetime (one per process).
A request is checked without the database (``_checks.check_twilio``); a verified one
is handed to the :class:`EventWriter` and answered only once its event has committed,
so an event Twilio was told is delivered is never lost. The worker applies stored
events later (``_events``).

Group commit: the writer drains every request waiting at that moment into ONE
multi-row ``INSERT ... ON CONFLICT (provider, event_id) DO NOTHING`` and one commit,
then wakes each waiting request. While a batch commits the next one gathers, so
concurrent requests share transactions and the database's commit (fsync) cost is paid
per batch, not per request. A duplicate delivery of the same MessageSid conflicts and
is dropped by the database, in the same batch or a later one. On PostgreSQL the batch
goes over an asyncio connection on the event loop (no thread, no pool); on SQLite it
runs on a thread in a ``BEGIN IMMEDIATE`` transaction.

The signature check needs to know which numbers belong to businesses with their own
Twilio account (``_checks``): the process's :class:`~kaimen_core.messaging._accounts.AccountMap`
answers from memory, so a request normally does no database work before its insert. A
request refused for its signature makes the map re-read (at most once a second) and is
checked once more, so a business that has just connected or changed its account is not
refused while the map is old.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import psycopg
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from kaimen_core import db
from kaimen_core.logs import failure_reason
from kaimen_core.messaging._accounts import AccountMap
from kaimen_core.messaging._checks import (
    INVALID_SIGNATURE,
    TwilioEvent,
    WebhookReply,
    check_twilio,
    record_rejection,
)
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
# batch size, run in autocommit, so a batch is one round trip and one commit. The writer's connections
# are its own (never pooled, never used for anything else), so the cross-tenant scope that
# kaimen_core.db sets per transaction for system work is set once for the connection's life.
_PG_SCOPE = "SELECT set_config('app.business_id', '', false), set_config('app.cross_tenant', 'on', false)"
_PG_INSERT = (
    "INSERT INTO webhook_events (provider, event_id, kind, payload, status, received_at) "
    "SELECT 'twilio', e.event_id, e.kind, e.payload::jsonb, 'received', e.received_at "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[]) AS e(event_id, kind, payload, received_at) "
    "ON CONFLICT (provider, event_id) DO NOTHING"
)


class _Lane:
    """One batch in flight at a time, on a connection of its own.

    PostgreSQL: an asyncio psycopg connection on the event loop itself (no thread hop)
    in autocommit, one statement per batch. SQLite: a thread of its own running
    :func:`store_events`.
    """

    def __init__(self) -> None:
        self.url: str | None = None
        self.connection: psycopg.AsyncConnection | None = None
        self.thread: ThreadPoolExecutor | None = None

    async def write(self, engine: Engine, events: list[TwilioEvent]) -> None:
        if engine.dialect.name != "postgresql":
            if self.thread is None:
                self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaimen-event-writer")
            await asyncio.get_running_loop().run_in_executor(self.thread, partial(store_events, events, engine=engine))
            return
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        columns = ([e.event_id for e in events], [e.kind for e in events],
                   [json.dumps(e.payload, separators=(",", ":")) for e in events], [e.received_at for e in events])
        reused = self.connection is not None and not self.connection.closed and self.url == url
        try:
            await self._insert(url, columns)
        except psycopg.OperationalError:
            await self.close()  # a connection in an unknown state is never reused
            if not reused:
                raise
            # The kept connection had gone (a database restart, an idle timeout): once more on a new one.
            # Safe to repeat: the insert skips ids already stored.
            try:
                await self._insert(url, columns)
            except BaseException:
                await self.close()
                raise
        except BaseException:
            await self.close()
            raise

    async def _insert(self, url: str, columns: tuple[list, ...]) -> None:
        if self.connection is None or self.connection.closed or self.url != url:
            await self.close()
            self.connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
            self.url = url
            await self.connection.execute(_PG_SCOPE)
        await self.connection.execute(_PG_INSERT, columns)

    async def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            await connection.close()
        if self.thread is not None:
            thread, self.thread = self.thread, None
            thread.shutdown(wait=False)


class EventWriter:
    """Stores events for many concurrent requests with one insert and one commit per batch.

    Used from one asyncio event loop. Up to ``lanes`` batches are in flight at once, each
    on a connection of its own, so a batch gathers while others commit.
    """

    def __init__(self, *, engine: Engine | None = None, lanes: int = 2, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[tuple[TwilioEvent, asyncio.Future[None]]] = []
        self._idle = [_Lane() for _ in range(lanes)]
        self._lanes = list(self._idle)
        self._running: set[asyncio.Task[None]] = set()

    async def store(self, event: TwilioEvent) -> None:
        """Return once ``event`` is committed (or was stored before); raise if the database refused."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((event, done))
        if self._idle:
            task = loop.create_task(self._drain(self._idle.pop()))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        await done

    async def _engine(self) -> Engine:
        """The process's engine; built (with its role check, a round trip) off the event loop the first time."""
        if self.engine is None:
            self.engine = await asyncio.get_running_loop().run_in_executor(None, db.get_engine)
        return self.engine

    async def _drain(self, lane: _Lane) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                try:
                    await lane.write(await self._engine(), [event for event, _ in batch])
                except Exception as exc:  # every request of the batch answers with the failure
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._idle.append(lane)

    async def aclose(self) -> None:
        """Finish the batches in flight, then close the lanes' connections."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for lane in self._lanes:
            await lane.close()


class TwilioWebhooks:
    """Twilio's webhook requests for one sidecar process: checked, stored once, answered."""

    def __init__(self, *, engine: Engine | None = None, accounts: AccountMap | None = None) -> None:
        self.writer = EventWriter(engine=engine)
        self.accounts = accounts or AccountMap(engine=engine)

    async def handle(self, *, path: str, query: str, content_type: str | None, body: bytes,
                     signature: str | None) -> WebhookReply:
        """The reply for one request: empty TwiML once the event is stored, or why it was refused."""
        try:
            accounts = await self.accounts.current()
        except Exception as exc:  # the database cannot be read: nothing could be stored either
            log.error("the map of businesses' Twilio accounts could not be read: %s", failure_reason(exc))
            return _UNAVAILABLE
        checked = check_twilio(path=path, query=query, content_type=content_type, body=body, signature=signature,
                               accounts=accounts)
        if checked is INVALID_SIGNATURE and await self._refreshed():
            checked = check_twilio(path=path, query=query, content_type=content_type, body=body,
                                   signature=signature, accounts=await self.accounts.current())
        if isinstance(checked, WebhookReply):
            if checked.rejected:
                await asyncio.get_running_loop().run_in_executor(None, record_rejection, path, checked)
            return checked
        try:
            await self.writer.store(checked)
        except Exception as exc:  # not stored, so not acknowledged: Twilio sees a failure, not a delivery
            log.error("a %s event could not be stored: %s", checked.kind, failure_reason(exc))
            return _UNAVAILABLE
        return _ACCEPTED

    async def _refreshed(self) -> bool:
        try:
            return await self.accounts.refresh()
        except Exception:
            return False  # keep the refusal; the failure is logged by the next read

    async def aclose(self) -> None:
        await self.writer.aclose()
