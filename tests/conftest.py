"""Test fixtures: a migrated database per test on SQLite, and on PostgreSQL when
KAIMEN_TEST_POSTGRES_URL names a server (as a superuser that can create databases).

Tests that take the ``database`` fixture run once per database; the PostgreSQL run
connects the app as an ordinary role subject to row-level security, exactly as
production does, while the fixture itself cleans up as the owner.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlmodel import SQLModel

_TMP = Path(tempfile.mkdtemp(prefix="kaimen-tests-"))
os.environ.update(
    KAIMEN_ENV="development",
    KAIMEN_DATA_DIR=str(_TMP / "data"),
    KAIMEN_BCRYPT_ROUNDS="4",
    KAIMEN_COOKIE_KEY="test-cookie-key-" + "x" * 32,
)
for name in ("KAIMEN_DATABASE_URL", "KAIMEN_MIGRATE_DATABASE_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
             "STRIPE_SECRET_KEY", "ANTHROPIC_API_KEY", "CLOUDINARY_URL"):
    os.environ.pop(name, None)

# The environment above must come first; importing models registers every table in SQLModel.metadata.
from kaimen_core import config, db, models  # noqa: E402, F401

POSTGRES_URL = os.environ.get("KAIMEN_TEST_POSTGRES_URL")
APP_ROLE = "kaimen_app_test"


@dataclass
class TestDatabase:
    """A migrated database: ``engine`` connects as the app does, ``owner`` as the schema owner."""

    kind: str
    url: str
    engine: Engine
    owner: Engine


def _point_app_at(app_url: str, owner_url: str) -> None:
    os.environ["KAIMEN_DATABASE_URL"] = app_url
    os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = owner_url
    config.reset_settings()
    db.reset_engine()


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _TMP / "template.db"
    _point_app_at(f"sqlite:///{path}", f"sqlite:///{path}")
    db.migrate()
    db.reset_engine()
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, str]]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need KAIMEN_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    admin_url = make_url(db.Settings.model_validate({"database_url": POSTGRES_URL}).database_url)
    name = f"kaimen_test_{os.getpid()}"
    admin = db.create_engine_for(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    owner_url = admin_url.set(database=name).render_as_string(hide_password=False)
    app_url = admin_url.set(database=name, username=APP_ROLE, password="app-test-password").render_as_string(
        hide_password=False
    )
    _point_app_at(app_url, owner_url)
    db.migrate()
    db.reset_engine()
    yield app_url, owner_url
    db.reset_engine()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[TestDatabase]:
    """A clean, migrated database; the app's settings and engine point at it."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "kaimen.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        _point_app_at(url, url)
        engine = db.get_engine()
        yield TestDatabase("sqlite", url, engine, engine)
        db.reset_engine()
        return
    app_url, owner_url = request.getfixturevalue("postgres_server")
    _point_app_at(app_url, owner_url)
    owner = db.create_engine_for(owner_url)
    with owner.begin() as connection:
        # DELETE rather than TRUNCATE: on a test's few rows it takes milliseconds, where
        # TRUNCATE of every table takes about a third of a second (new files for each table
        # and index), which was most of the suite's time. Ids are not reset; no test may
        # depend on them. Cross-tenant, in case the owner is itself subject to RLS.
        connection.execute(text("SELECT set_config('app.cross_tenant', 'on', true)"))
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
    yield TestDatabase("postgres", app_url, db.get_engine(), owner)
    db.reset_engine()
    owner.dispose()
