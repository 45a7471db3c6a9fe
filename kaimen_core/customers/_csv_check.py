"""Checking an import's rows one by one: the cleaned values of each row, or the line,
column and reason it is refused; and duplicates within the file (by phone, or without a
phone by email), of which the first or the later row is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kaimen_core.customers._consent import clean_consent_method
from kaimen_core.customers._csv_read import unneutralise
from kaimen_core.customers._phones import PhoneReader
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import utcnow
from kaimen_core.models.customers import CustomerCreate

__all__ = ["CheckedRow", "ImportReport", "RowChecker", "RowIssue"]

_YES = {"yes", "y", "true", "1", "x", "si", "sí", "oui", "ja"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True, slots=True)
class RowIssue:
    """Why one row was refused or skipped: its line in the file, the column, the reason."""

    line: int
    column: str | None
    reason: str
    outcome: str = "refused"  # or "skipped"


@dataclass
class ImportReport:
    """What an import did (or, for a check, would do), with the row-by-row report."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    refused: int = 0
    written: bool = False
    issues: list[RowIssue] = field(default_factory=list)


@dataclass
class CheckedRow:
    """A valid row: its line, its cleaned values, and the key duplicates are found by."""

    line: int
    values: dict[str, Any]
    key: tuple[str, str]


def _flag(value: str, field_name: str) -> bool:
    text = value.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(f"{value!r} is not yes or no.", field=field_name)


def _date(value: str) -> datetime:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{value!r} is not a date like 2026-03-01 (year-month-day).",
                              field="marketing_consent_date") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    moment = moment.replace(microsecond=0)
    if moment > utcnow():
        raise ValidationError("The consent date is in the future.", field="marketing_consent_date")
    return moment


_TYPED = CustomerCreate.inputs()  # {name as typed (the import's field): column}


def _clean_row(cells: dict[str, str], region: str, read_phone: PhoneReader) -> dict[str, Any]:
    """The row's values for the mapped fields, cleaned by the form's own checks (the model
    family); raises ValidationError naming the field. A field without a cell is left out,
    so an update keeps what the customer has."""
    fields = CustomerCreate.clean(cells, region=region, read_phone=read_phone)
    if not fields["phone_e164"] and not fields["email"]:
        raise ValidationError("A row needs a phone number or an email.", field="phone")
    values: dict[str, Any] = {column: fields[column] for name, column in _TYPED.items()
                              if column == "name" or cells.get(name, "")}
    if cells.get("transactional_consent", "").strip():
        values["transactional_consent"] = _flag(cells["transactional_consent"], "transactional_consent")
    if "marketing_consent" in cells:
        granted = _flag(cells["marketing_consent"], "marketing_consent")
        if granted:
            if not cells.get("marketing_consent_source", "").strip():
                raise ValidationError("Marketing consent needs its source.", field="marketing_consent_source")
            if not cells.get("marketing_consent_date", "").strip():
                raise ValidationError("Marketing consent needs its date.", field="marketing_consent_date")
            values["marketing_consent_method"] = clean_consent_method(cells["marketing_consent_source"],
                                                                      field="marketing_consent_source")
            values["marketing_consent_at"] = _date(cells["marketing_consent_date"])
            values["wording"] = (cells.get("marketing_consent_wording") or "").strip()[:1000] or None
        values["marketing_consent"] = granted
    return values


class RowChecker:
    """Checks rows fed a chunk at a time, keeping one report and one view of duplicates
    for the whole file; feeding the whole file at once is the plain case."""

    def __init__(self, headers: list[str], fields: dict[str, str], region: str, report: ImportReport,
                 on_duplicate: str) -> None:
        self._index = {f: headers.index(column) for f, column in fields.items()}
        self._width = len(headers)
        self._fields = fields
        self._region = region
        self._read_phone = PhoneReader(region)
        self._report = report
        self._keep_first = on_duplicate == "skip"
        self._valid: dict[tuple[str, str], CheckedRow] = {}
        #: A row replaced the row of an earlier chunk (the later row is kept).
        self.replaced_earlier_chunk = False

    def feed(self, rows: list[tuple[int, list[str]]]) -> list[CheckedRow]:
        """Check ``rows``; returns those of them kept, in line order."""
        report, fields, width = self._report, self._fields, self._width
        report.rows += len(rows)
        kept: dict[tuple[str, str], CheckedRow] = {}
        for line, raw in rows:
            if len(raw) > width:
                report.issues.append(RowIssue(line, None, f"{len(raw)} cells, but the header has {width} columns."))
                continue
            cells = {f: "" if i >= len(raw) else unneutralise(raw[i]) if raw[i][:1] == "'" else raw[i]
                     for f, i in self._index.items()}
            try:
                values = _clean_row(cells, self._region, self._read_phone)
            except ValidationError as exc:
                column = fields.get(exc.field or "")
                report.issues.append(RowIssue(line, column, str(exc)))
                continue
            key = ("phone", values["phone_e164"]) if values.get("phone_e164") else ("email", values["email"])
            earlier = self._valid.get(key)
            if earlier is not None:
                dropped = line if self._keep_first else earlier.line
                report.issues.append(RowIssue(dropped, fields.get(key[0]),
                                              f"Same {key[0]} as line {earlier.line if self._keep_first else line} "
                                              "in this file; " + ("the first row is kept." if self._keep_first else
                                                                  "the later row is kept."), "skipped"))
                if self._keep_first:
                    continue
                if key not in kept:
                    self.replaced_earlier_chunk = True
            self._valid[key] = kept[key] = CheckedRow(line, values, key)
        return sorted(kept.values(), key=lambda r: r.line)

    def kept(self) -> list[CheckedRow]:
        """Every row kept so far, in line order."""
        return sorted(self._valid.values(), key=lambda r: r.line)
