"""Health checks for the processes' liveness endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from kaimen_core import db
from kaimen_core.exceptions import DatabaseUnavailable

__all__ = ["HealthReport", "check_database"]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Whether a dependency answered, and a short description for the endpoint."""

    ok: bool
    detail: str


def check_database() -> HealthReport:
    """One round trip to the database on the app's connection."""
    try:
        with db.get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, DatabaseUnavailable) as exc:
        return HealthReport(False, f"unreachable ({type(exc).__name__})")
    return HealthReport(True, db.get_engine().dialect.name)
