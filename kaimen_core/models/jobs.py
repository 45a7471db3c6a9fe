"""The durable job queue the worker runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, JsonDoc, one_of, utcnow

__all__ = ["JOB_STATUSES", "Job"]

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(SQLModel, table=True):
    """A unit of queued work, retried with backoff until it succeeds or runs out of attempts."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(one_of("status", JOB_STATUSES), name="job_status_known"),
        Index("ix_jobs_status_run_at", "status", "run_at"),
        Index("ix_jobs_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int | None = Field(
        default=None, foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId
    )
    kind: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    status: str = Field(default="queued", max_length=8)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=5)
    run_at: datetime = Field(default_factory=utcnow)
    locked_at: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
