"""Alembic environment: Kaimen's metadata, batch mode for SQLite, URL from settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import kaimen_core.models  # noqa: F401  (registers every table)
from kaimen_core.db import create_engine_for

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return url
    from kaimen_core.config import get_settings

    return get_settings().owner_database_url


def _include(obj, name, type_, reflected, compare_to) -> bool:
    # Indexes that only PostgreSQL has (trigram, expression and sort-order indexes written
    # by hand in a revision) are not in the models; autogenerate must not drop them.
    return not (type_ == "index" and reflected and compare_to is None)


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=_include,
    )


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
