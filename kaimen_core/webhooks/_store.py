"""Store, the second stage: the raw event once under ``(provider, event_id, signer)``, as ``received``.

Events go in with ``INSERT ... ON CONFLICT DO NOTHING`` (:func:`store_events`), so a
duplicate delivery is dropped by the database's unique key. The sidecar answers a request
only once its event has committed: a delivery the provider was told is stored is never lost.

Group commit (:class:`GroupCommit`, the sidecar's store): the requests waiting at a moment
share ONE insert and one commit, while the next batch gathers; the commit's cost is paid per
batch, not per request (an insert and a commit per request missed the sidecar's target by
far: ``docs/webhooks.md``). Each lane is a thread with one connection of the process's engine.
On PostgreSQL that connection runs in autocommit with the cross-business scope set once for
its life (the sidecar only inserts events, with no business yet), so a batch is one round
trip; it is closed, never handed back to the pool, so no other work sees that scope. On
SQLite a batch is a ``BEGIN IMMEDIATE`` transaction of its own. Should a batch fail, each of
its events is stored again in a transaction of its own: an event can only fail its own
request.

What the database cannot hold is replaced rather than refused: a NUL character (which
PostgreSQL's text and jsonb refuse) or a lone surrogate in any key or value of the event
becomes U+FFFD, so a text holding one is stored and shown like any other. The signature
was checked on the raw body before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from kaimen_core import db
from kaimen_core.logs import failure_reason
from kaimen_core.models import WebhookEvent, utcnow
from kaimen_core.webhooks._provider import VerifiedEvent

__all__ = ["GroupCommit", "storable", "store_events"]

log = logging.getLogger(__name__)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_KEY = ["provider", "event_id", "signer"]
#: A lane's PostgreSQL connection: Kaimen's own cross-business work, for the connection's life.
_LANE_SCOPE = text("SELECT set_config('app.business_id', '', false), set_config('app.cross_tenant', 'on', false)")


def storable(value: Any) -> Any:
    """``value`` with every NUL and lone surrogate in its strings (keys included) replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def _rows(items: Sequence[tuple[str, VerifiedEvent]]) -> list[dict[str, Any]]:
    now = utcnow()
    return [{"provider": provider, "event_id": event.event_id[:120], "signer": event.signer[:40],
             "business_id": event.business_id, "kind": event.kind[:60], "payload": event.payload,
             "received_at": event.received_at or now} for provider, event in items]


#: PostgreSQL: a batch is one statement whatever its size, its events one JSON document turned
#: back into rows by the database, so a batch is one round trip and one prepared statement (an
#: executemany would send an INSERT per event; arrays as parameters cost more to send than JSON).
_PG_INSERT = text(
    "INSERT INTO webhook_events (provider, event_id, signer, business_id, kind, payload, status, received_at) "
    "SELECT e.provider, e.event_id, e.signer, e.business_id, e.kind, e.payload, 'received', e.received_at "
    "FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e(provider text, event_id text, signer text, "
    "business_id bigint, kind text, payload jsonb, received_at timestamptz) "
    "ON CONFLICT (provider, event_id, signer) DO NOTHING"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_document(rows: list[dict[str, Any]]) -> str:
    """The rows as one JSON text PostgreSQL's jsonb accepts (no NUL escape, no lone surrogate)."""
    document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=datetime.isoformat)
    if "\\u0000" in document or _SURROGATE.search(document):
        document = json.dumps(storable(rows), ensure_ascii=False, separators=(",", ":"), default=datetime.isoformat)
    return document


def _insert(connection: Connection, items: Sequence[tuple[str, VerifiedEvent]]) -> None:
    rows = _rows(items)
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_INSERT, {"events": _as_document(rows)})
    else:
        statement = sqlite_insert(WebhookEvent.__table__).on_conflict_do_nothing(index_elements=_KEY)
        connection.execute(statement, [{**row, "status": "received"} for row in storable(rows)])


def store_events(session: Session, provider: str, events: Sequence[VerifiedEvent]) -> None:
    """Insert events as ``received`` in ``session`` (one statement); an event already stored is skipped."""
    if events:
        _insert(session.connection(), [(provider, event) for event in events])


class _Lane:
    """One batch at a time, on a thread of its own with (on PostgreSQL) a connection of its own."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaimen-webhook-store")
        self.connection: Connection | None = None

    def store(self, items: list[tuple[str, VerifiedEvent]]) -> list[Exception | None]:
        """Store a batch in one commit; should it fail, each event in its own. The failure of each, in order.

        Each event on its own goes through a pooled connection of the engine, checked before
        use, so a lane whose connection died (a database restart) loses no event either.
        """
        try:
            self._insert(items)
            return [None] * len(items)
        except Exception as exc:
            self.close()  # a connection in an unknown state is never used again
            log.warning("storing %d events together failed (%s); storing each on its own", len(items),
                        failure_reason(exc))
        failures: list[Exception | None] = []
        for provider, event in items:
            try:
                with db.system_session(engine=self.engine) as session:
                    store_events(session, provider, [event])
            except Exception as exc:
                failures.append(exc)
            else:
                failures.append(None)
        return failures

    def _insert(self, items: list[tuple[str, VerifiedEvent]]) -> None:
        engine = self.engine or db.get_engine()
        if engine.dialect.name != "postgresql":
            with db.system_session(engine=engine) as session:
                _insert(session.connection(), items)
            return
        if self.connection is None:
            connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                connection.execute(_LANE_SCOPE)
            except BaseException:
                connection.invalidate()
                connection.close()
                raise
            self.connection = connection
        _insert(self.connection, items)

    def close(self) -> None:
        """Close the lane's connection for good (its scope must not reach the pool)."""
        if self.connection is not None:
            connection, self.connection = self.connection, None
            connection.invalidate()
            connection.close()


class GroupCommit:
    """The sidecar's store: each request's event committed, concurrent requests sharing inserts and commits.

    Used from one event loop. Up to ``lanes`` batches are in flight at once, so a batch
    gathers while another commits; a batch holds at most ``max_batch`` events.
    """

    def __init__(self, *, engine: Engine | None = None, lanes: int = 2, max_batch: int = 500) -> None:
        self.max_batch = max_batch
        self._lanes = [_Lane(engine) for _ in range(lanes)]
        self._idle = list(self._lanes)
        self._waiting: list[tuple[str, VerifiedEvent, asyncio.Future[None]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def store(self, provider: str, event: VerifiedEvent) -> None:
        """Return once ``event`` is committed (or was stored before); raise what kept it from being stored."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((provider, event, done))
        if self._idle:
            task = loop.create_task(self._drain(self._idle.pop()))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        await done

    async def _drain(self, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        batch: list[tuple[str, VerifiedEvent, asyncio.Future[None]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
                items = [(provider, event) for provider, event, _ in batch]
                failures = await loop.run_in_executor(lane.thread, lane.store, items)
                for (_, _, done), failure in zip(batch, failures, strict=True):
                    if failure is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failure)
                batch = []
        except BaseException as exc:  # the lane itself failed (cancelled, shut down): nothing answered 2xx
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("the event was not stored"))
            raise
        finally:
            self._idle.append(lane)

    async def aclose(self) -> None:
        """Finish the batches in flight, then close the lanes' connections and threads."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        loop = asyncio.get_running_loop()
        for lane in self._lanes:
            await loop.run_in_executor(lane.thread, lane.close)
            lane.thread.shutdown(wait=True)
