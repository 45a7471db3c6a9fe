"""CSV export: streamed with constant memory, safe to open in a spreadsheet.

On PostgreSQL the rows come straight from ``COPY (SELECT ...) TO STDOUT`` on the
session's own connection, inside its transaction, so row-level security sees the
actor's business; cells are neutralised in that SELECT. On SQLite the same columns are
written by Python's csv module while the rows are read. Either way: UTF-8 with a BOM,
RFC 4180 quoting (LF line ends, as PostgreSQL's COPY writes them), restricted customers
left out, and every export recorded in the audit log with its row count.
"""

from __future__ import annotations

import csv
from datetime import UTC
from typing import BinaryIO

from sqlalchemy import literal_column, select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.customers._directory import business_region, search_condition
from kaimen_core.exceptions import PermissionDenied
from kaimen_core.models import Customer
from kaimen_core.validators import clean_search

__all__ = ["EXPORT_COLUMNS", "export_customers", "neutralise"]

BOM = b"\xef\xbb\xbf"
#: Header -> customers column, in file order. The header names map back on import.
EXPORT_COLUMNS = {
    "name": "name",
    "phone": "phone_e164",
    "email": "email",
    "notes": "notes",
    "tags": "tags",
    "preferred_language": "preferred_language",
    "time_zone": "time_zone",
    "transactional_consent": "transactional_consent",
    "marketing_consent": "marketing_consent",
    "marketing_consent_source": "marketing_consent_method",
    "marketing_consent_date": "marketing_consent_at",
    "opted_out_at": "opted_out_at",
    "created_at": "created_at",
}
_BOOLEAN = {"transactional_consent", "marketing_consent"}
_TIMES = {"marketing_consent_at", "opted_out_at", "created_at"}
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_FIRST_CODES = "(61, 43, 45, 64, 9, 13, 10, 39)"  # = + - @ tab CR LF, and the quote itself


def neutralise(value: str) -> str:
    """OWASP CSV injection: a cell starting with = + - @ tab CR LF gets a leading quote.

    Cells that already start with quotes before such a character get one more, so the
    import can always take exactly one away and the round trip is exact.
    """
    return "'" + value if value.lstrip("'")[:1] in _TRIGGERS and value.lstrip("'") else value


def _pg_safe(expression: str) -> str:
    # A cheap first-character test (an integer compare); the exact rule (quotes, then a
    # trigger) runs only for the few cells that pass it.
    return (f"CASE WHEN ascii({expression}) IN {_FIRST_CODES} AND {expression} ~ '^''*[-=+@\\t\\r\\n]' "
            f"THEN '''' || {expression} ELSE {expression} END")


def _pg_column(column: str) -> str:
    if column in _BOOLEAN:
        return f"CASE WHEN {column} THEN 'yes' ELSE 'no' END"
    if column in _TIMES:  # 2026-03-01T09:30:00Z
        return f"replace(left(({column} AT TIME ZONE 'UTC')::text, 19), ' ', 'T') || 'Z'"
    if column == "tags":
        return _pg_safe("CASE WHEN tags = '[]'::jsonb THEN NULL ELSE "
                        "(SELECT string_agg(t, '; ') FROM jsonb_array_elements_text(tags) AS t) END")
    if column == "phone_e164":  # always E.164, so always "+...": quoted without testing
        return "'''' || phone_e164"
    return _pg_safe(column)


def _cell(column: str, value) -> str:
    if value is None:
        return ""
    if column in _BOOLEAN:
        return "yes" if value else "no"
    if column in _TIMES:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if column == "tags":
        value = "; ".join(value) if value else ""
        return neutralise(value) if value else ""
    return neutralise(str(value))


def _filters(session: Session, actor: Actor, query: str | None):
    return (Customer.business_id == actor.business_id, Customer.restricted_at.is_(None),
            search_condition(query, business_region(session, actor=actor)))


def _copy_postgres(session: Session, actor: Actor, query: str | None, out: BinaryIO) -> int:
    columns = [literal_column(_pg_column(column)).label(header) for header, column in EXPORT_COLUMNS.items()]
    select_sql = select(*columns).select_from(Customer).where(*_filters(session, actor, query)).order_by(
        Customer.id).compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    statement = f"COPY ({select_sql}) TO STDOUT WITH (FORMAT csv, HEADER)"
    raw = session.connection().connection.driver_connection  # the transaction with app.business_id set
    with raw.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for chunk in copy:
                out.write(chunk)
        return max(cursor.rowcount, 0)


class _Utf8Writer:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(text.encode("utf-8"))


def _write_sqlite(session: Session, actor: Actor, query: str | None, out: BinaryIO) -> int:
    columns = [getattr(Customer, column) for column in EXPORT_COLUMNS.values()]
    writer = csv.writer(_Utf8Writer(out), lineterminator="\n")
    writer.writerow(list(EXPORT_COLUMNS))
    rows = session.connection().execute(select(*columns).where(*_filters(session, actor, query))
                                        .order_by(Customer.id).execution_options(yield_per=2000))
    count = 0
    names = list(EXPORT_COLUMNS.values())
    for row in rows:
        writer.writerow([_cell(name, value) for name, value in zip(names, row, strict=True)])
        count += 1
    return count


def export_customers(session: Session, *, actor: Actor, out: BinaryIO, query: str | None = None) -> int:
    """Write the business's customers (or those matching ``query``) as CSV to ``out``; return the row count.

    Owners only (staff cannot export), and Kaimen's operator command line as the system
    actor for one business.
    """
    if not (actor.role == "owner" or (actor.is_system and actor.business_id is not None)):
        raise PermissionDenied("Only owners can export customers.")
    query = clean_search(query)
    out.write(BOM)
    if session.connection().dialect.name == "postgresql":
        count = _copy_postgres(session, actor, query, out)
    else:
        count = _write_sqlite(session, actor, query, out)
    audit.record(session, actor=actor, action="customers.exported", target_type="customers",
                 detail={"rows": count, "filtered": bool((query or "").strip()),
                         "via": "cli" if actor.is_system else "page"})
    return count

