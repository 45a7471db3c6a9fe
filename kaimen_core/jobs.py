"""The durable job queue: enqueue in the caller's transaction, claim, finish, retry with backoff.

On PostgreSQL a claim takes rows with ``FOR UPDATE SKIP LOCKED``, so many workers on
many machines never take the same job. On SQLite every write transaction begins
``IMMEDIATE`` (see kaimen_core.db), which serialises claims the same way.

A job whose worker died stays ``running`` with its ``locked_at``; after the lease it is
claimed again (its handler must be safe to run twice: the send handler reconciles).
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from kaimen_core import db
from kaimen_core.models import Job, utcnow

__all__ = ["LEASE", "backoff", "claim", "enqueue", "finish", "retry_or_fail", "worker_name"]

#: How long a claimed job may run before another worker may take it over.
LEASE = timedelta(minutes=5)


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(
    session: Session, *, kind: str, payload: dict[str, Any], business_id: int | None = None,
    run_at: datetime | None = None, max_attempts: int = 5,
) -> Job:
    """Add a job in the caller's transaction: it exists exactly when the change it follows commits."""
    job = Job(business_id=business_id, kind=kind, payload=payload, run_at=run_at or utcnow(),
              max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def claim(*, worker: str, now: datetime | None = None, limit: int = 1, kinds: tuple[str, ...] | None = None,
          engine: Engine | None = None) -> list[Job]:
    """Take up to ``limit`` due jobs (and jobs whose worker's lease ran out) for ``worker``."""
    now = now or utcnow()
    with db.system_session(engine=engine) as session:
        query = select(Job).where(or_(
            (Job.status == "queued") & (Job.run_at <= now),
            (Job.status == "running") & (col(Job.locked_at) < now - LEASE),
        ))
        if kinds:
            query = query.where(col(Job.kind).in_(kinds))
        query = query.order_by(col(Job.run_at), col(Job.id)).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        taken = list(session.exec(query).all())
        for job in taken:
            job.status = "running"
            job.attempts += 1
            job.locked_at = now
            job.locked_by = worker[:100]
            job.updated_at = now
            session.add(job)
        session.flush()
        return taken


def finish(job_id: int, *, engine: Engine | None = None) -> None:
    """Mark a job done."""
    with db.system_session(engine=engine) as session:
        job = session.get(Job, job_id)
        if job is not None:
            job.status, job.locked_at, job.locked_by, job.updated_at = "done", None, None, utcnow()
            session.add(job)


def retry_or_fail(job_id: int, *, error: str, now: datetime | None = None, retry: bool = True,
                  engine: Engine | None = None) -> str:
    """Put a failed job back with backoff, or mark it failed when out of attempts (or not retryable)."""
    now = now or utcnow()
    with db.system_session(engine=engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            return "gone"
        job.last_error = error[:2000]
        job.locked_at, job.locked_by, job.updated_at = None, None, now
        if retry and job.attempts < job.max_attempts:
            job.status, job.run_at = "queued", now + backoff(job.attempts)
        else:
            job.status = "failed"
        session.add(job)
        return job.status
