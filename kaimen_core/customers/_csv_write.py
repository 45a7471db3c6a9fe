"""Writing a checked CSV import as whole sets, in the caller's transaction.

The customers a file's rows already are come from one query per key kind (phones, then
phone-less emails), however long the file. New customers get their ids from the
database up front, so their consent events can be written in the same pass.

On PostgreSQL each set travels by ``COPY ... FROM STDIN`` into a temporary table (row-
level security does not allow COPY into the tenant tables themselves) and lands with one
``INSERT ... SELECT`` or ``UPDATE ... FROM`` per chunk, under row-level security like any
other write of the business. On SQLite each set goes by ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kaimen_core.exceptions import Conflict
from kaimen_core.models import ConsentEvent, Customer

__all__ = ["existing_customers", "new_customer_ids", "write_rows"]

_CUSTOMERS = Customer.__table__
_EVENTS = ConsentEvent.__table__
# What a row is compared with (the updatable fields and what decides whether it may
# change), and what is written for a new customer, a changed one and a consent event.
_CURRENT = ("id", "name", "phone_e164", "email", "notes", "tags", "preferred_language", "time_zone",
                   "transactional_consent", "marketing_consent", "marketing_consent_method",
                   "marketing_consent_at", "opted_out_at", "restricted_at")
_CREATED = ("id", "business_id", "name", "phone_e164", "email", "notes", "tags", "preferred_language",
                   "time_zone", "transactional_consent", "marketing_consent", "opted_out_at", "restricted_at",
                   "marketing_consent_method", "marketing_consent_at", "search_text", "created_at", "updated_at")
_UPDATED = ("id", "name", "email", "notes", "tags", "preferred_language", "time_zone",
                   "transactional_consent", "marketing_consent", "marketing_consent_method",
                   "marketing_consent_at", "search_text", "updated_at")
_EVENT_COLUMNS = ("business_id", "customer_id", "kind", "granted", "method", "wording", "captured_by_user_id",
                 "message_id", "detail", "occurred_at", "created_at")
_JSON = {"tags", "detail"}
_ADDED_MEANWHILE = ("Some of these phone numbers became customers while the file was importing; nothing was "
                    "imported. Import the file again.")
_REMOVED_MEANWHILE = ("Some of these customers were deleted while the file was importing; nothing was imported. "
                      "Import the file again.")
_LOOKUP_CHUNK = 500  # SQLite's bound parameters per IN list
_CHUNK = 10_000  # rows per statement, so progress moves during long imports


def existing_customers(connection: Connection, business_id: int, phones: Sequence[str],
                       emails: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The business's customers with these phones, and the first (by id) with each of these emails."""
    by_phone = {row["phone_e164"]: row for row in _select(connection, business_id, "phone_e164", phones)}
    by_email: dict[str, dict[str, Any]] = {}
    for row in _select(connection, business_id, "email", emails):
        by_email.setdefault(row["email"], row)
    return by_phone, by_email


def _select(connection: Connection, business_id: int, column: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    if not keys:
        return []
    if connection.dialect.name == "postgresql":  # one array parameter, rows as the driver reads them
        with connection.connection.driver_connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(_CURRENT)} FROM customers WHERE business_id = %s "
                           f"AND {column} = ANY(%s) ORDER BY id", (business_id, list(keys)))
            return [dict(zip(_CURRENT, row, strict=True)) for row in cursor]
    key = _CUSTOMERS.c[column]
    query = select(*(_CUSTOMERS.c[c] for c in _CURRENT)).where(_CUSTOMERS.c.business_id == business_id)
    chunks = [query.where(key.in_(keys[i:i + _LOOKUP_CHUNK])) for i in range(0, len(keys), _LOOKUP_CHUNK)]
    return [dict(row) for chunk in chunks for row in connection.execute(chunk.order_by(_CUSTOMERS.c.id)).mappings()]


def new_customer_ids(connection: Connection, count: int) -> list[int]:
    """``count`` unused customer ids, ascending."""
    if not count:
        return []
    if connection.dialect.name == "postgresql":
        sequence = func.nextval(func.pg_get_serial_sequence("customers", "id"))  # one array, not a row per id
        ids = select(func.array_agg(sequence)).select_from(func.generate_series(1, count))
        return sorted(connection.execute(ids).scalar_one())
    # SQLite: the transaction holds the write lock from its first statement (BEGIN IMMEDIATE).
    top = connection.execute(select(func.coalesce(func.max(_CUSTOMERS.c.id), 0))).scalar_one()
    return list(range(top + 1, top + 1 + count))


def write_rows(connection: Connection, *, business_id: int, created: list[dict[str, Any]],
               updated: list[dict[str, Any]], events: list[dict[str, Any]],
               progress: Callable[[int], None] | None = None) -> None:
    """Insert ``created`` (ids included), apply ``updated`` (by id), then insert ``events``.

    ``progress`` is called with the number of customers written so far. A row that another
    transaction added or removed in the meantime refuses the whole import (Conflict).
    """
    if connection.dialect.name == "postgresql":
        _copy_write(connection, business_id, created, updated, events, progress)
        return
    done = 0
    for start in range(0, len(created), _CHUNK):
        chunk = created[start:start + _CHUNK]
        try:
            connection.execute(insert(_CUSTOMERS), chunk)
        except IntegrityError:
            raise Conflict(_ADDED_MEANWHILE) from None
        done += len(chunk)
        if progress:
            progress(done)
    statement = update(_CUSTOMERS).where(_CUSTOMERS.c.id == bindparam("_id"), _CUSTOMERS.c.business_id == business_id)
    for start in range(0, len(updated), _CHUNK):
        chunk = updated[start:start + _CHUNK]
        result = connection.execute(statement, [{**{k: v for k, v in row.items() if k != "id"}, "_id": row["id"]}
                                                for row in chunk])
        if result.rowcount != len(chunk):
            raise Conflict(_REMOVED_MEANWHILE)
        done += len(chunk)
        if progress:
            progress(done)
    if events:
        connection.execute(insert(_EVENTS), events)


def _copy_write(connection: Connection, business_id: int, created: list[dict[str, Any]],
                updated: list[dict[str, Any]], events: list[dict[str, Any]],
                progress: Callable[[int], None] | None) -> None:
    columns = ", ".join(_CREATED)
    changes = ", ".join(f"{c} = u.{c}" for c in _UPDATED if c != "id")
    with connection.connection.driver_connection.cursor() as cursor:
        done = _land(cursor, "customers", _CREATED, created, business_id, progress, 0, _ADDED_MEANWHILE,
                     f"INSERT INTO customers ({columns}) SELECT {columns} FROM kaimen_import_customers "
                     "WHERE id BETWEEN %(first)s AND %(last)s ORDER BY id")
        _land(cursor, "customers", _UPDATED, updated, business_id, progress, done, _REMOVED_MEANWHILE,
              f"UPDATE customers AS c SET {changes} FROM kaimen_import_customers AS u "
              "WHERE c.id = u.id AND c.business_id = %(business)s AND u.id BETWEEN %(first)s AND %(last)s")
        if events:
            columns = ", ".join(_EVENT_COLUMNS)
            _stage(cursor, "consent_events", _EVENT_COLUMNS, events)
            cursor.execute(f"INSERT INTO consent_events ({columns}) SELECT {columns} FROM kaimen_import_consent_events")
            cursor.execute("DROP TABLE kaimen_import_consent_events")


def _land(cursor: Any, table: str, columns: Sequence[str], rows: list[dict[str, Any]], business_id: int,
          progress: Callable[[int], None] | None, done: int, refusal: str, statement: str) -> int:
    """Stage ``rows`` and apply ``statement`` to them a chunk of ids at a time; every row
    must be written, else the import is refused with ``refusal``. Returns ``done`` plus the rows."""
    if not rows:
        return done
    _stage(cursor, table, columns, rows)
    for first, last, expected in _id_ranges(rows):
        try:
            cursor.execute(statement, {"business": business_id, "first": first, "last": last})
        except psycopg.errors.UniqueViolation:  # a plain INSERT: no speculative insertion per row
            raise Conflict(refusal) from None
        if cursor.rowcount != expected:
            raise Conflict(refusal)
        done += expected
        if progress:
            progress(done)
    cursor.execute(f"DROP TABLE kaimen_import_{table}")
    return done


def _stage(cursor: Any, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """The temporary table ``kaimen_import_<table>`` with ``table``'s column types, filled with ``rows`` by COPY."""
    name = f"kaimen_import_{table}"
    cursor.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS SELECT {', '.join(columns)} FROM {table} "
                   "WITH NO DATA")  # the columns' types only: no constraints, no rows
    values = itemgetter(*columns)
    documents = [i for i, c in enumerate(columns) if c in _JSON]
    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            cells = list(values(row))
            for i in documents:
                cells[i] = json.dumps(cells[i])
            copy.write_row(cells)


def _id_ranges(rows: list[dict[str, Any]]) -> list[tuple[int, int, int]]:
    """(first id, last id, how many) of each chunk of ``rows`` in id order."""
    ids = sorted(row["id"] for row in rows)
    chunks = [ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    return [(chunk[0], chunk[-1], len(chunk)) for chunk in chunks]
