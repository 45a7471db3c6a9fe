"""The erasure's proof: scan every text and JSON column of every table for a person.

The scan reads the schema from the database itself, so a table or column added later
is covered without changing this code. Rows of other businesses are skipped where a
table has a ``business_id``; tables without one are scanned whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import JSON, String, inspect, text
from sqlmodel import Session

__all__ = ["Finding", "needles_for", "scan"]


@dataclass(frozen=True, slots=True)
class Finding:
    """Where something of the person was found (the value itself is never repeated)."""

    table: str
    column: str
    row: str
    matched: str  # which kind of identifier: phone, email or name


def needles_for(*, name: str | None, phone_e164: str | None, email: str | None, region: str) -> dict[str, list[str]]:
    """The strings to look for, by kind: E.164 and national phone formats, email, full name."""
    found: dict[str, list[str]] = {"phone": [], "email": [], "name": []}
    if phone_e164:
        number = phonenumbers.parse(phone_e164, region)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        digits = re.sub(r"\D", "", national)
        found["phone"] = sorted({phone_e164, phone_e164.lstrip("+"), national, digits,
                                 phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)})
    if email:
        found["email"] = [email.lower()]
    if name and len(name.strip()) >= 2:
        found["name"] = [name.strip().lower()]
    return found


def _text_columns(session: Session) -> list[tuple[str, list[str], list[str], bool]]:
    inspector = inspect(session.connection())
    tables = []
    for table in sorted(inspector.get_table_names()):
        columns = inspector.get_columns(table)
        scanned = [c["name"] for c in columns if isinstance(c["type"], (String, JSON)) or
                   type(c["type"]).__name__.upper() in {"JSONB", "JSON", "TEXT", "VARCHAR"}]
        if not scanned:
            continue
        keys = inspector.get_pk_constraint(table).get("constrained_columns") or []
        has_business = any(c["name"] == "business_id" for c in columns) or table == "businesses"
        tables.append((table, scanned, keys, has_business))
    return tables


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def scan(
    session: Session, *, business_id: int, needles: dict[str, list[str]], skip: set[tuple[str, str, str]] = frozenset()
) -> list[Finding]:
    """Every place a needle still appears. ``skip`` names (table, column, row) cells to ignore."""
    dialect = session.get_bind().dialect
    quote, postgres = dialect.identifier_preparer.quote, dialect.name == "postgresql"
    patterns: list[tuple[str, str]] = []
    for kind, values in needles.items():
        for value in values:
            for form in {value, json.dumps(value)[1:-1].lower()}:
                patterns.append((kind, form))
    if not patterns:
        return []
    name_words = [re.compile(r"(?<!\w)" + re.escape(v) + r"(?!\w)") for v in needles.get("name", [])]
    findings: list[Finding] = []
    for table, columns, keys, has_business in _text_columns(session):
        # One pass per table: every text column joined into one lower-cased string is
        # matched against every pattern; the columns of the rows that match are then
        # checked one by one here, so the finding names the column.
        cells = [f"lower(CAST({quote(c)} AS TEXT))" for c in columns]
        joined = " || ' ' || ".join(f"coalesce({cell}, '')" for cell in cells)
        if postgres:  # the joined string is built once per row, then tried against every pattern
            where = f"({joined}) LIKE ANY (CAST(:patterns AS text[]))"
            params: dict[str, object] = {"patterns": [_like(form) for _, form in patterns]}
        else:
            where = "(" + " OR ".join(f"({joined}) LIKE :p{i} ESCAPE '\\'" for i in range(len(patterns))) + ")"
            params = {f"p{i}": _like(form) for i, (_, form) in enumerate(patterns)}
        if has_business:
            where += f" AND {quote('id' if table == 'businesses' else 'business_id')} = :business"
            params["business"] = business_id
        key_sql = ", ".join(f"CAST({quote(k)} AS TEXT)" for k in keys) or "NULL"
        sql = f"SELECT {key_sql}, {', '.join(cells)} FROM {quote(table)} WHERE {where}"
        width = max(len(keys), 1)
        for row in session.execute(text(sql), params):
            row_id = "/".join(str(v) for v in row[:width]) if keys else "?"
            for column, value in zip(columns, row[width:], strict=True):
                if (table, column, row_id) in skip or not value:
                    continue
                kind = _matched(value, patterns, name_words)
                if kind:
                    findings.append(Finding(table, column, row_id, kind))
    return findings


def _matched(value: str, patterns: list[tuple[str, str]], name_words: list[re.Pattern[str]]) -> str | None:
    for kind, form in patterns:
        if form in value and (kind != "name" or any(w.search(value) for w in name_words)):
            return kind
    return None
