"""Throwaway databases for benchmarks: point Kaimen at one, migrate it, drop it afterwards.

Import this before kaimen_core: it sets a private data folder and cheap password hashing.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
TMP = Path(tempfile.mkdtemp(prefix="kaimen-bench-"))
os.environ.update(KAIMEN_DATA_DIR=str(TMP), KAIMEN_BCRYPT_ROUNDS="4", KAIMEN_COOKIE_KEY="bench-" + "k" * 40)
for _name in ("KAIMEN_DATABASE_URL", "KAIMEN_MIGRATE_DATABASE_URL", "CLOUDINARY_URL"):
    os.environ.pop(_name, None)

from sqlalchemy import make_url, text  # noqa: E402

from kaimen_core import config, db  # noqa: E402

__all__ = ["ADMIN_HINT", "TMP", "point_app_at", "postgres_database", "sqlite_database"]

ADMIN_HINT = "set KAIMEN_BENCH_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"


def point_app_at(app_url: str, owner_url: str) -> None:
    """Make ``app_url`` the app's database (``owner_url`` migrates it) and migrate."""
    os.environ["KAIMEN_DATABASE_URL"] = app_url
    os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = owner_url
    config.reset_settings()
    db.reset_engine()
    db.migrate()


def sqlite_database(name: str = "bench.db") -> str:
    """A migrated SQLite file in the bench's folder; returns its URL."""
    url = f"sqlite:///{TMP / name}"
    point_app_at(url, url)
    return url


@contextmanager
def postgres_database(label: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database the app uses as an ordinary role; yields the owner's URL.

    Yields None when KAIMEN_BENCH_POSTGRES_URL (a superuser URL) is not set. The database
    is dropped afterwards, also when the bench fails or is interrupted.
    """
    admin = os.environ.get("KAIMEN_BENCH_POSTGRES_URL")
    if not admin:
        yield None
        return
    url = make_url(config.Settings.model_validate({"database_url": admin}).database_url)
    name = f"kaimen_bench_{label}_{os.getpid()}"
    engine = db.create_engine_for(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        owner_url = url.set(database=name).render_as_string(hide_password=False)
        app_url = url.set(database=name, username="kaimen_app_bench", password="bench").render_as_string(
            hide_password=False)
        point_app_at(app_url, owner_url)
        yield owner_url
    finally:
        db.reset_engine()
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()
