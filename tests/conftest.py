"""Test fixtures: a migrated database per test on SQLite, and on PostgreSQL when
KAIMEN_TEST_POSTGRES_URL names a server (as a superuser that can create databases).

Tests that take the ``database`` fixture run once per database; the PostgreSQL run
connects the app as an ordinary role subject to row-level security, exactly as
production does, while the fixture itself cleans up as the owner. Page and browser
tests run on one database only (:data:`ONE_DATABASE`): what they add is the screen,
and the screen is the same on both.

Everything a test process owns is its own, so ``pytest -n 2`` (pytest-xdist) runs two
processes side by side: a temporary folder and SQLite template per process, PostgreSQL
databases named after the process id, and the app's role created under a lock.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlmodel import SQLModel

# This process's own folder (data folder, SQLite template), removed when the process ends.
_TMP = Path(tempfile.mkdtemp(prefix="kaimen-tests-"))
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
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
# Any number both test processes agree on: the lock under which one of them creates APP_ROLE.
_ROLE_LOCK = 7_013_001
_BROWSER_TESTS = "tests/e2e/"

#: Both databases, for tests of kaimen_core and the webhook sidecar.
BOTH_DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
#: The one database page and browser tests run on: PostgreSQL, production's, when configured.
ONE_DATABASE = [pytest.param("postgres", marks=pytest.mark.postgres)] if POSTGRES_URL else ["sqlite"]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under ``pytest -n``, hand out tests one by one as processes free up, except the
    browser tests, which all go to one process: each process that ran one would start its
    own Kaimen server and Chromium, and the two would fight for the cores.

    (pytest-xdist's ``--dist loadgroup`` would say this with a mark, but with pytest 9.2
    it silently ignores the mark: pytest-dev/pytest-xdist#1386.)
    """
    if config.getvalue("dist") != "load":  # another --dist was asked for
        return None
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser tests" if nodeid.startswith(_BROWSER_TESTS) else nodeid

    return BrowserTestsTogether(config, log)


@dataclass
class TestDatabase:
    """A migrated database: ``engine`` connects as the app does, ``owner`` as the schema owner."""

    kind: str
    url: str
    engine: Engine
    owner: Engine


def point_app_at(app_url: str, owner_url: str) -> None:
    """Point the app's settings and engine at a database."""
    os.environ["KAIMEN_DATABASE_URL"] = app_url
    os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = owner_url
    config.reset_settings()
    db.reset_engine()


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    path = _TMP / "template.db"
    point_app_at(f"sqlite:///{path}", f"sqlite:///{path}")
    db.migrate()
    db.reset_engine()
    return path


@dataclass
class PostgresDatabases:
    """Makes migrated PostgreSQL databases for this test process, and drops them at the end."""

    admin: Engine
    made: list[str]

    def new(self, suffix: str = "") -> tuple[str, str]:
        """A new, migrated database; returns ``(app_url, owner_url)``."""
        name = f"kaimen_test_{os.getpid()}{suffix}"
        with self.admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {name}"))
        self.made.append(name)
        owner_url = self.admin.url.set(database=name).render_as_string(hide_password=False)
        app_url = self.admin.url.set(database=name, username=APP_ROLE, password="app-test-password").render_as_string(
            hide_password=False
        )
        point_app_at(app_url, owner_url)
        # migrate creates APP_ROLE when it is missing; two processes creating it at once
        # would collide on the role's name, so the creation is one at a time.
        with self.admin.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ROLE_LOCK})
            try:
                db.migrate()
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ROLE_LOCK})
        db.reset_engine()
        return app_url, owner_url


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need KAIMEN_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    admin_url = make_url(db.Settings.model_validate({"database_url": POSTGRES_URL}).database_url)
    admin = db.create_engine_for(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    databases = PostgresDatabases(admin, [])
    yield databases
    db.reset_engine()
    with admin.connect() as connection:
        for name in databases.made:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@dataclass
class ProcessDatabase:
    """The process's PostgreSQL database, with an engine connected as its owner.

    The owner's engine lasts the session: a new connection for every test costs more
    than emptying the tables does.
    """

    app_url: str
    owner_url: str
    owner: Engine


@pytest.fixture(scope="session")
def postgres_server(postgres_databases) -> Iterator[ProcessDatabase]:
    """The process's PostgreSQL database that the ``database`` fixture empties for each test."""
    app_url, owner_url = postgres_databases.new()
    owner = db.create_engine_for(owner_url)
    yield ProcessDatabase(app_url, owner_url, owner)
    owner.dispose()


def _empty_postgres(owner: Engine) -> None:
    # DELETE rather than TRUNCATE: on a test's few rows it takes milliseconds, where
    # TRUNCATE of every table takes about a third of a second (new files for each table
    # and index). Ids are not reset; no test may depend on them. Cross-tenant, in case
    # the owner is itself subject to RLS; every statement in one round trip.
    statements = ["SELECT set_config('app.cross_tenant', 'on', true)"]
    statements += [f'DELETE FROM "{table.name}"' for table in reversed(SQLModel.metadata.sorted_tables)]
    with owner.begin() as connection:
        connection.exec_driver_sql("; ".join(statements))


@contextmanager
def open_database(request: pytest.FixtureRequest, kind: str, folder: Path) -> Iterator[TestDatabase]:
    """A clean, migrated database of ``kind``; the app's settings and engine point at it."""
    if kind == "sqlite":
        path = folder / "kaimen.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
        point_app_at(url, url)
        engine = db.get_engine()
        yield TestDatabase("sqlite", url, engine, engine)
        db.reset_engine()
        return
    server: ProcessDatabase = request.getfixturevalue("postgres_server")
    point_app_at(server.app_url, server.owner_url)
    _empty_postgres(server.owner)
    yield TestDatabase("postgres", server.app_url, db.get_engine(), server.owner)
    db.reset_engine()


def own_database(request: pytest.FixtureRequest, kind: str, folder: Path, name: str) -> tuple[str, str]:
    """A new migrated database of ``kind`` that no other fixture empties, for rows built once
    and read by many tests; returns ``(app_url, owner_url)`` for :func:`point_app_at`."""
    if kind == "sqlite":
        path = folder / f"{name}.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}", f"sqlite:///{path}"
    return request.getfixturevalue("postgres_databases").new(f"_{name}")


@pytest.fixture(params=BOTH_DATABASES)
def database(request, tmp_path) -> Iterator[TestDatabase]:
    """A clean, migrated database; the app's settings and engine point at it."""
    with open_database(request, request.param, tmp_path) as opened:
        yield opened
