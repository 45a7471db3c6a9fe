"""The worker: ``python -m kaimen_core worker`` applies received webhook events and runs due jobs until stopped.

Each round first applies the webhook events the sidecar stored
(``webhooks.apply_received_events`` with the appliers of ``webhook_providers.PROVIDERS``:
Twilio's inbound texts, keywords, delivery status), so a STOP that has arrived is
applied before any queued text is sent, then runs due jobs.
Handlers by job kind: ``send_message`` (deliver one queued text), ``reminders`` (the
sweep that queues due booking reminders; every minute), ``search_index`` (folding the
customers added, changed or removed into the search blocks of large businesses, see
kaimen_core.customers.search; every minute) and ``retention`` (the purge of
records past their business's retention periods; once a day).
A handler that raises is retried with backoff (kaimen_core.jobs) until its attempts run
out, then the job stays ``failed`` with the error; a text's own failure reason is kept
on the message for the inbox.
"""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from kaimen_core import db, jobs, retention, webhooks
from kaimen_core.customers import refresh_search_indexes
from kaimen_core.logs import failure_reason
from kaimen_core.messaging import RetryLater, deliver, send_due_reminders
from kaimen_core.models import Job, utcnow
from kaimen_core.providers.sms import SmsProvider, get_provider
from kaimen_core.webhook_providers import PROVIDERS

__all__ = ["Worker", "run_forever"]

log = logging.getLogger(__name__)
REMINDER_EVERY = timedelta(minutes=1)
SEARCH_INDEX_EVERY = timedelta(minutes=1)
RETENTION_EVERY = timedelta(days=1)
#: Webhook events applied per transaction, and transactions per round before the jobs get their turn.
WEBHOOK_BATCH = 100
WEBHOOK_ROUNDS = 10


class Worker:
    """Claims and runs jobs; one instance per process (several processes may run at once)."""

    def __init__(self, *, provider: SmsProvider | None = None, name: str | None = None,
                 engine: Engine | None = None) -> None:
        self.provider = provider or get_provider()
        self.name = name or jobs.worker_name()
        self.engine = engine

    def schedule_periodic_jobs(self, now: datetime | None = None) -> None:
        """Make sure one reminder sweep, one search-index fold and one retention purge are
        queued (idempotent across workers)."""
        now = now or utcnow()
        with db.system_session(engine=self.engine) as session:
            for kind in ("reminders", "search_index", "retention"):
                queued = session.exec(select(Job.id).where(Job.kind == kind,
                                                           Job.status.in_(("queued", "running")))).first()
                if queued is None:
                    jobs.enqueue(session, kind=kind, payload={}, run_at=now, max_attempts=3)

    def apply_webhooks(self, *, now: datetime | None = None, limit: int = WEBHOOK_BATCH,
                       rounds: int = WEBHOOK_ROUNDS) -> int:
        """Apply received webhook events: up to ``rounds`` transactions of ``limit`` events, fewer when none are left.

        Bounded, so that under a flood of events the worker still gets to its jobs (replies among them).
        """
        applied = 0
        for _ in range(rounds):
            taken = webhooks.apply_received_events(PROVIDERS, limit=limit, now=now, engine=self.engine)
            applied += taken
            if taken < limit:
                break
        return applied

    def run_once(self, *, now: datetime | None = None, limit: int = 10) -> int:
        """Apply received webhook events, then claim up to ``limit`` due jobs and run them; returns how many ran."""
        applied = self.apply_webhooks(now=now)
        taken = jobs.claim(worker=self.name, now=now, limit=limit, engine=self.engine)
        for job in taken:
            self._run(job, now)
        return applied + len(taken)

    def _run(self, job: Job, now: datetime | None) -> None:
        try:
            if job.kind == "send_message":
                deliver(int(job.payload["message_id"]), provider=self.provider, now=now,
                        last_attempt=job.attempts >= job.max_attempts, job_id=job.id, engine=self.engine)
                return  # deliver marked the job done with the outcome it recorded
            elif job.kind == "reminders":
                with db.system_session(engine=self.engine) as session:
                    send_due_reminders(session, now=now)
                    jobs.enqueue(session, kind="reminders", payload={}, max_attempts=3,
                                 run_at=(now or utcnow()) + REMINDER_EVERY)
            elif job.kind == "search_index":
                refresh_search_indexes(engine=self.engine)
                with db.system_session(engine=self.engine) as session:
                    jobs.enqueue(session, kind="search_index", payload={}, max_attempts=3,
                                 run_at=(now or utcnow()) + SEARCH_INDEX_EVERY)
            elif job.kind == "retention":
                with db.system_session(engine=self.engine) as session:
                    retention.purge_expired(session, now=now)
                    jobs.enqueue(session, kind="retention", payload={}, max_attempts=3,
                                 run_at=(now or utcnow()) + RETENTION_EVERY)
            else:
                raise ValueError(f"unknown job kind {job.kind!r}")
        except RetryLater as exc:
            jobs.retry_or_fail(job.id, error=str(exc), now=now, engine=self.engine)
            return
        except Exception as exc:  # a recorded failure: the job retries, then stays failed
            log.error("job %s (%s) failed: %s", job.id, job.kind, failure_reason(exc))
            jobs.retry_or_fail(job.id, error=failure_reason(exc), now=now, engine=self.engine)
            return
        jobs.finish(job.id, engine=self.engine)


def run_forever(*, idle_sleep: float = 0.5) -> None:
    """Run jobs until SIGINT/SIGTERM; sleeps briefly when there is nothing to do."""
    stop = False

    def _stop(*_args) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker = Worker()
    log.info("worker %s started with the %s provider", worker.name, worker.provider.name)
    worker.schedule_periodic_jobs()
    while not stop:
        try:
            ran = worker.run_once()
        except Exception:  # the database went away: wait and try again, losing nothing
            log.exception("worker could not claim jobs; retrying")
            ran = 0
        if not ran:
            time.sleep(idle_sleep)
