"""The erasure's proof: scan every text and JSON column of every table a business's data can be in.

The scan reads the schema from the database itself, so a table or column added later is
covered without changing this code. Of each table it reads, for one business:

- the business's rows: where ``business_id`` is the business (``businesses``: its own row);
- the platform's rows (no ``business_id``, or a NULL one) only as
  :data:`~kaimen_core.models.PLATFORM_ROWS` declares them: those that can hold the business's
  customers' data and concern it (an unapplied text to its number), and nothing else. The
  sign-in attempts, screening terms, operators' accounts and events are never read for a
  business. A hit in a platform row is a :class:`Finding` marked ``platform``: the business
  can neither see nor remove that row, so it is for operators, never for the business.

:func:`scan` looks for one person and lets the database filter the rows (``LIKE``).
:func:`scan_many` looks for many people of one business in a single pass: it streams
every text cell once and finds, per cell, the few people who could be in it by looking
up short pieces of the cell in an index built from their identifiers; each of those is
then checked exactly as :func:`scan` checks a cell, so both report the same findings.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import JSON, ColumnElement, Select, String, inspect, literal_column, or_, select, table, text
from sqlmodel import Session, SQLModel

from kaimen_core import db
from kaimen_core.models import PLATFORM_ROWS

__all__ = ["Finding", "needles_for", "scan", "scan_many"]

_PIECE = 8  # the longest piece of a phone or email form that the batch index keys on
_WORD = re.compile(r"\w+")
_REPEATED = 32  # cells up to this long are looked up once per distinct value (a status, a label)


@dataclass(frozen=True, slots=True)
class Finding:
    """Where something of the person was found (the value itself is never repeated)."""

    table: str
    column: str
    row: str
    matched: str  # which kind of identifier: phone, email or name
    platform: bool = False  # in a row no business owns: for operators, never the business's findings


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


@dataclass(frozen=True, slots=True)
class _Table:
    """A table as the scan reads it: its text and JSON columns, primary key, the column naming the business
    that owns a row (None: no business owns any), and the condition picking its platform rows that concern
    a business (None: none ever do)."""

    name: str
    columns: list[str]
    keys: list[str]
    owner: str | None
    of_business: Callable[[int], ColumnElement[bool]] | None


def _tables(session: Session) -> list[_Table]:
    """The tables that can hold a business's data, from the database's own schema.

    A table without ``business_id`` that :data:`~kaimen_core.models.PLATFORM_ROWS` does not
    declare is not read (tests/core/test_models.py fails until it is declared).
    """
    inspector = inspect(session.connection())
    tables = []
    for name in sorted(inspector.get_table_names()):
        columns = inspector.get_columns(name)
        scanned = [c["name"] for c in columns if isinstance(c["type"], (String, JSON)) or
                   type(c["type"]).__name__.upper() in {"JSONB", "JSON", "TEXT", "VARCHAR"}]
        owner = "id" if name == "businesses" else "business_id" if any(
            c["name"] == "business_id" for c in columns) else None
        platform = PLATFORM_ROWS.get(name)
        of_business = platform.of_business if platform else None
        if not scanned or not (owner or of_business):
            continue  # no text, or only platform rows that never concern a business (or were never declared)
        keys = inspector.get_pk_constraint(name).get("constrained_columns") or []
        tables.append(_Table(name, scanned, keys, owner, of_business))
    return tables


def _patterns(needles: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(kind, form) pairs: each needle as written and as it reads inside JSON text."""
    return [(kind, form) for kind, values in needles.items() for value in values
            for form in {value, json.dumps(value)[1:-1].lower()}]


def _name_words(needles: dict[str, list[str]]) -> list[re.Pattern[str]]:
    return [re.compile(r"(?<!\w)" + re.escape(v) + r"(?!\w)") for v in needles.get("name", [])]


def _select(session: Session, source: _Table, business_id: int, where: str | None) -> tuple[Select, int]:
    """SELECT each row's owner, its key and its lower-cased text cells: the business's rows, and the platform
    rows that concern it; ``where`` (SQL text) narrows them further."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    owner = literal_column(quote(source.owner) if source.owner else "NULL")
    keys = [literal_column(f"CAST({quote(k)} AS TEXT)") for k in source.keys] or [literal_column("NULL")]
    cells = [literal_column(f"lower(CAST({quote(c)} AS TEXT))") for c in source.columns]
    readable = [owner == business_id] if source.owner else []
    if source.of_business:
        readable.append(source.of_business(business_id))
    # The condition of platform rows is written on the model's table: read from that very table.
    sql = select(owner, *keys, *cells).select_from(SQLModel.metadata.tables.get(source.name, table(source.name)))
    sql = sql.where(or_(*readable))
    return (sql.where(text(where)) if where else sql), len(keys)


def _cells(rows, source: _Table, width: int, business_id: int,
           skip: set[tuple[str, str, str]]) -> Iterator[tuple[str, str, str, bool]]:
    """(column, row id, value, platform) of every non-empty cell not in ``skip``; ``platform``: a row the
    business does not own."""
    for row in rows:
        platform = row[0] != business_id
        row_id = "/".join(str(v) for v in row[1:1 + width]) if source.keys else "?"
        for column, value in zip(source.columns, row[1 + width:], strict=True):
            if value and (source.name, column, row_id) not in skip:
                yield column, row_id, value, platform


def scan(
    session: Session, *, business_id: int, needles: dict[str, list[str]], skip: set[tuple[str, str, str]] = frozenset()
) -> list[Finding]:
    """Every place a needle still appears, in the business's rows and the platform rows that concern it.

    ``skip`` names (table, column, row) cells to ignore.
    """
    dialect = session.get_bind().dialect
    quote, postgres = dialect.identifier_preparer.quote, dialect.name == "postgresql"
    patterns = _patterns(needles)
    if not patterns:
        return []
    name_words = _name_words(needles)
    findings: list[Finding] = []
    for source in _tables(session):
        # One pass per table: every text column joined into one lower-cased string is
        # matched against every pattern; the columns of the rows that match are then
        # checked one by one here, so the finding names the column.
        joined = " || ' ' || ".join(f"coalesce(lower(CAST({quote(c)} AS TEXT)), '')" for c in source.columns)
        if postgres:  # the joined string is built once per row, then tried against every pattern
            where = f"({joined}) LIKE ANY (CAST(:patterns AS text[]))"
            params: dict[str, object] = {"patterns": [db.contains_pattern(form) for _, form in patterns]}
        else:
            where = "(" + " OR ".join(f"({joined}) LIKE :p{i} ESCAPE '\\'" for i in range(len(patterns))) + ")"
            params = {f"p{i}": db.contains_pattern(form) for i, (_, form) in enumerate(patterns)}
        sql, width = _select(session, source, business_id, where)
        for column, row_id, value, platform in _cells(session.execute(sql, params), source, width, business_id, skip):
            kind = _matched(value, patterns, name_words)
            if kind:
                findings.append(Finding(source.name, column, row_id, kind, platform))
    return findings


def scan_many(
    session: Session, *, business_id: int, people: Mapping[Hashable, dict[str, list[str]]],
    skip: set[tuple[str, str, str]] = frozenset(),
) -> dict[Hashable, list[Finding]]:
    """:func:`scan` for many people of one business at once: the findings of each, in one pass.

    Every text cell of the business's rows (and of the platform rows that concern it) is
    read once, in a streamed query, whatever the number of people.
    """
    patterns = {key: _patterns(needles) for key, needles in people.items()}
    words = {key: _name_words(needles) for key, needles in people.items()}
    findings: dict[Hashable, list[Finding]] = {key: [] for key in people}
    suspects = _Suspects(patterns, {key: needles.get("name", []) for key, needles in people.items()})
    if not suspects:
        return findings
    for source in _tables(session):
        sql, width = _select(session, source, business_id, None)
        rows = session.execute(sql, execution_options={"stream_results": True, "yield_per": 2000})
        for column, row_id, value, platform in _cells(rows, source, width, business_id, skip):
            for key in suspects.of(value):
                kind = _matched(value, patterns[key], words[key])
                if kind:
                    findings[key].append(Finding(source.name, column, row_id, kind, platform))
    return findings


def _pieces(form: str) -> set[str]:
    """Every run of ``_PIECE`` characters in ``form`` (the form itself when shorter)."""
    length = min(len(form), _PIECE)
    return {form[i:i + length] for i in range(len(form) - length + 1)}


class _Suspects:
    """Who could be in a cell, from an index of short pieces of everyone's identifiers.

    A phone or email form can only be in a cell if every piece of it is, so each form is
    indexed under its piece of up to eight characters that the fewest people share. A
    form also lies within a stretch of the cell made only of characters that such forms
    use (digits and phone punctuation; the characters of emails), so a cell is looked
    up by the pieces of those stretches alone. A name only counts as whole words, so
    each name is indexed under its rarest word and a cell is looked up by its words.
    The result is never smaller than the set of people :func:`_matched` would find in
    the cell; it is usually empty or one person.
    """

    def __init__(self, patterns: dict[Hashable, list[tuple[str, str]]], names: dict[Hashable, list[str]]) -> None:
        self.always: set[Hashable] = set()  # people with a form no piece stands for (an empty one)
        self.groups: list[tuple[re.Pattern[str], dict[int, dict[str, set[Hashable]]]]] = []
        self.words: dict[str, set[Hashable]] = {}
        self._seen: dict[str, set[Hashable]] = {}
        forms: dict[Hashable, list[tuple[bool, str, set[str]]]] = {}
        words: dict[Hashable, list[set[str]]] = {}
        for key, pairs in patterns.items():
            forms[key] = [(kind == "phone", f, _pieces(f)) for kind, f in pairs if kind != "name" and f]
            words[key] = [set(_WORD.findall(name)) for name in names.get(key, [])]
            if not all(f for kind, f in pairs if kind != "name") or not all(words[key]):
                self.always.add(key)
        shared_pieces = Counter(p for found in forms.values() for p in set().union(*(f[2] for f in found)))
        shared_words = Counter(w for sets in words.values() for w in set().union(*sets))
        indexes: dict[bool, dict[int, dict[str, set[Hashable]]]] = {True: {}, False: {}}
        chars: dict[bool, set[str]] = {True: set(), False: set()}
        for key in patterns:
            for phone, form, pieces in forms[key]:
                rarest = min(pieces, key=lambda p: (shared_pieces[p], p))
                indexes[phone].setdefault(len(rarest), {}).setdefault(rarest, set()).add(key)
                chars[phone].update(form)
            for found in filter(None, words[key]):
                rarest = min(found, key=lambda w: (shared_words[w], w))
                self.words.setdefault(rarest, set()).add(key)
        for phone, by_length in indexes.items():
            if by_length:
                stretch = "[" + "".join(map(re.escape, sorted(chars[phone]))) + "]{" + str(min(by_length)) + ",}"
                self.groups.append((re.compile(stretch), by_length))

    def __bool__(self) -> bool:
        return bool(self.always or self.groups or self.words)

    def of(self, value: str) -> set[Hashable]:
        """Everyone whose identifiers could be in ``value``."""
        short = len(value) <= _REPEATED
        if short and value in self._seen:  # a status, a kind, an empty list: the same few values again and again
            return self._seen[value]
        found = set(self.always)
        for stretches, by_length in self.groups:
            for stretch in stretches.findall(value):
                for length, index in by_length.items():
                    if len(stretch) >= length:
                        pieces = {stretch[i:i + length] for i in range(len(stretch) - length + 1)}
                        for piece in index.keys() & pieces:
                            found |= index[piece]
        if self.words:
            for word in self.words.keys() & set(_WORD.findall(value)):
                found |= self.words[word]
        if short and len(self._seen) < 100_000:
            self._seen[value] = found
        return found


def _matched(value: str, patterns: list[tuple[str, str]], name_words: list[re.Pattern[str]]) -> str | None:
    for kind, form in patterns:
        if form in value and (kind != "name" or any(w.search(value) for w in name_words)):
            return kind
    return None
