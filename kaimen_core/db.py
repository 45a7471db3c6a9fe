"""Engine, sessions, tenant context and migrations.

One engine per process (:func:`get_engine`). Each unit of work opens a short session
with :func:`tenant_session` (an owner's or staff member's business only),
:func:`system_session` (Kaimen's own cross-business work) and commits once.

On PostgreSQL every tenant table has row-level security. Each transaction begins by
setting ``app.business_id`` (and ``app.cross_tenant`` for system and operator work)
with ``set_config(..., true)``, so the setting dies with the transaction and a pooled
connection never carries the previous request's business.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from kaimen_core.actors import Actor
from kaimen_core.config import Settings, get_settings
from kaimen_core.exceptions import ConfigurationError, NotFound, PermissionDenied
from kaimen_core.files import private_file, private_folder

__all__ = [
    "TenantScope",
    "contains_pattern",
    "create_engine_for",
    "enter_operator_scope",
    "get_engine",
    "migrate",
    "owned",
    "reset_engine",
    "scope_of",
    "system_session",
    "tenant_session",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def contains_pattern(text: str) -> str:
    """The ``LIKE`` pattern for a value holding ``text`` anywhere, its wildcards taken
    literally (use with ``ESCAPE '\\'``, PostgreSQL's default and SQLite's when given)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, slots=True)
class TenantScope:
    """What a session may see: one business, or every business (system and operator work)."""

    business_id: int | None = None
    cross_tenant: bool = False


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Autocommit at the driver; SQLAlchemy's "begin" event below opens each transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # Take the write lock up front: a deferred transaction that reads and then writes
    # fails at once (SQLITE_BUSY_SNAPSHOT) when another process wrote in between, while
    # an immediate one waits its turn under busy_timeout. Readers are never blocked (WAL).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine_for(url: str, **kwargs) -> Engine:
    """An engine for ``url`` with Kaimen's connection settings for its dialect."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            folder = Path(database).parent
            if not folder.exists() or folder.resolve() == get_settings().data_dir.resolve():
                private_folder(folder)  # a folder of someone else's (the current one) keeps its mode
            with suppress(OSError):  # a path that cannot be a file is SQLite's to report, on connecting
                private_file(Path(database))
        engine = create_engine(url, connect_args={"timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _refuse_privileged_role(engine: Engine) -> None:
    """The app's PostgreSQL role must be subject to row-level security."""
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
    if row.rolsuper or row.rolbypassrls:
        raise ConfigurationError(
            f"KAIMEN_DATABASE_URL connects as role {row.current_user!r}, which bypasses row-level "
            "security. Connect the app as an ordinary role and give the owner's URL in "
            "KAIMEN_MIGRATE_DATABASE_URL; `python -m kaimen_core migrate` creates the role's grants."
        )


_ENGINE_LOCK = threading.Lock()


def get_engine() -> Engine:
    """The process's one engine for the app's database URL (built once, even by racing threads)."""
    with _ENGINE_LOCK:
        return _build_engine()


@lru_cache(maxsize=1)
def _build_engine() -> Engine:
    engine = create_engine_for(get_settings().app_database_url)
    if engine.dialect.name == "postgresql":
        try:
            _refuse_privileged_role(engine)
        except ConfigurationError:
            engine.dispose()  # close the pooled connection the check opened
            raise
    return engine


def reset_engine(*, close: bool = True) -> None:
    """Forget the process's engine (tests point it at another database).

    A forked child passes ``close=False``: it must not close connections its parent owns.
    """
    with _ENGINE_LOCK:
        if _build_engine.cache_info().currsize:
            _build_engine().dispose(close=close)
        _build_engine.cache_clear()


@event.listens_for(OrmSession, "after_begin")
def _apply_scope(session: OrmSession, _transaction, connection) -> None:
    """Set the tenant for this transaction only (PostgreSQL row-level security reads it)."""
    if connection.dialect.name != "postgresql":
        return
    scope: TenantScope = session.info.get("scope", TenantScope())
    connection.execute(
        text("SELECT set_config('app.business_id', :business, true), set_config('app.cross_tenant', :cross, true)"),
        {
            "business": "" if scope.business_id is None else str(scope.business_id),
            "cross": "on" if scope.cross_tenant else "",
        },
    )


def scope_of(session: Session) -> TenantScope:
    """The tenant scope a session was opened with."""
    return session.info.get("scope", TenantScope())


def _set_scope(session: Session, scope: TenantScope) -> None:
    session.info["scope"] = scope
    if session.in_transaction():
        connection = session.connection()
        _apply_scope(session, None, connection)


@contextmanager
def _session(scope: TenantScope, engine: Engine | None) -> Iterator[Session]:
    session = Session(engine or get_engine(), expire_on_commit=False)
    session.info["scope"] = scope
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def tenant_session(actor: Actor, *, engine: Engine | None = None) -> Iterator[Session]:
    """A session limited to the actor's business; commits on success, rolls back on error.

    Operators get a session that sees no business until an operator function calls
    :func:`enter_operator_scope`.
    """
    if actor.is_system:
        raise PermissionDenied("The system actor uses system_session().")
    with _session(TenantScope(business_id=actor.business_id), engine) as session:
        yield session


@contextmanager
def system_session(*, engine: Engine | None = None) -> Iterator[Session]:
    """A cross-business session for Kaimen's own work (sign-in, routing, the worker)."""
    with _session(TenantScope(cross_tenant=True), engine) as session:
        yield session


def enter_operator_scope(session: Session, actor: Actor) -> None:
    """Let an operator's session see every business; callers audit why they did."""
    actor.require("operator")
    _set_scope(session, TenantScope(cross_tenant=True))


Row = TypeVar("Row")


def owned(session: Session, model: type[Row], row_id: int | None, *, actor: Actor) -> Row:
    """The ``model`` row ``row_id`` if it belongs to the actor's business, else NotFound
    naming the thing ("No such staff member."): another business's row is as absent as a
    missing one. A business belongs to itself."""
    row = session.get(model, row_id) if row_id is not None else None
    home = None if row is None else row.business_id if "business_id" in model.model_fields else row.id
    if home is None or home != actor.business_id:
        raise NotFound(f"No such {re.sub(r'(?<!^)(?=[A-Z])', ' ', model.__name__).lower()}.")
    return row


# --- migrations ----------------------------------------------------------------------


def _alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def _grant_app_role(owner: Engine, app_url: str) -> str | None:
    """Create (if needed) and grant the app's role; refuse one that bypasses RLS."""
    role = make_url(app_url).username
    with owner.begin() as connection:
        owner_role = connection.execute(text("SELECT current_user")).scalar_one()
        if not role or role == owner_role:
            return None
        quote = connection.dialect.identifier_preparer.quote
        existing = connection.execute(
            text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
        ).one_or_none()
        if existing is None:
            password = make_url(app_url).password
            clause = ""
            if password:
                literal = connection.execute(text("SELECT quote_literal(:p)"), {"p": password}).scalar_one()
                clause = f" PASSWORD {literal}"
            connection.execute(
                text(
                    f"CREATE ROLE {quote(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB "
                    f"NOCREATEROLE{clause}"
                )
            )
        elif existing.rolsuper or existing.rolbypassrls:
            raise ConfigurationError(
                f"KAIMEN_DATABASE_URL uses role {role!r}, which bypasses row-level security; "
                "choose an ordinary role."
            )
        database = connection.execute(text("SELECT current_database()")).scalar_one()
        for statement in (
            f"GRANT CONNECT ON DATABASE {quote(database)} TO {quote(role)}",
            f"GRANT USAGE ON SCHEMA public TO {quote(role)}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quote(role)}",
            f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {quote(role)}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}",
        ):
            connection.execute(text(statement))
    return role


def migrate(settings: Settings | None = None) -> str | None:
    """Bring the schema to the newest revision; on PostgreSQL also grant the app's role.

    Returns the name of the role granted, if any.
    """
    settings = settings or get_settings()
    owner_url = settings.owner_database_url
    engine = create_engine_for(owner_url)
    try:
        config = _alembic_config(owner_url)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")  # every branch, should two revisions meet
        if engine.dialect.name == "postgresql":
            return _grant_app_role(engine, settings.app_database_url)
        return None
    finally:
        engine.dispose()
