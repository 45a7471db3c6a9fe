"""Reading an uploaded CSV: encoding, delimiter, header, and mapping columns to fields."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from kaimen_core.exceptions import ValidationError
from kaimen_core.models.customers import CustomerCreate

__all__ = [
    "FIELD_LABELS",
    "MAX_IMPORT_BYTES",
    "CsvFile",
    "check_mapping",
    "read_csv",
    "suggest_mapping",
    "unneutralise",
]

MAX_IMPORT_BYTES = 20 * 1024 * 1024
#: The fields a CSV column can be mapped to. Never ids, the business or opt-out state.
FIELD_LABELS = {
    **{typed: CustomerCreate.model_fields[column].title for typed, column in CustomerCreate.inputs().items()},
    "transactional_consent": "Transactional SMS consent",
    "marketing_consent": "Marketing SMS consent",
    "marketing_consent_source": "Marketing consent source",
    "marketing_consent_date": "Marketing consent date",
    "marketing_consent_wording": "Marketing consent wording",
}
_ALIASES = {
    "name": ("name", "full name", "customer", "customer name", "client", "nombre"),
    "phone": ("phone", "phone number", "mobile", "cell", "telephone", "tel", "phone e164", "telefono"),
    "email": ("email", "e mail", "email address", "e mail address", "mail"),
    "notes": ("notes", "note", "comments"),
    "tags": ("tags", "tag", "labels"),
    "preferred_language": ("preferred language", "language", "lang"),
    "time_zone": ("time zone", "timezone", "tz"),
    "transactional_consent": ("transactional consent", "transactional sms consent"),
    "marketing_consent": ("marketing consent", "marketing sms consent", "marketing"),
    "marketing_consent_source": ("marketing consent source", "marketing consent method", "consent source"),
    "marketing_consent_date": ("marketing consent date", "marketing consent at", "consent date"),
    "marketing_consent_wording": ("marketing consent wording", "consent wording"),
}
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class CsvFile:
    """An uploaded file, decoded: its header and its data rows with their line numbers."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    encoding: str
    delimiter: str

    def preview(self, n: int = 5) -> list[dict[str, str]]:
        """The first ``n`` rows as column -> value, for showing before anything is mapped."""
        return [dict(zip(self.headers, cells, strict=False)) for _, cells in self.rows[:n]]


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1"


def _delimiter(text: str) -> str:
    first = next(iter(text.splitlines()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(data: bytes, *, max_bytes: int = MAX_IMPORT_BYTES) -> CsvFile:
    """Decode UTF-8 (with or without BOM) or Latin-1, comma/semicolon/tab separated."""
    if len(data) > max_bytes:
        raise ValidationError(
            f"The file is {len(data) / 1048576:.1f} MB; the limit is {max_bytes // 1048576} MB. "
            "Split it into smaller files.", field="file")
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError:
        raise ValidationError("The file starts like UTF-8 but is not valid UTF-8.", field="file") from None
    if "\x00" in text:
        raise ValidationError("This is not a text (CSV) file.", field="file")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = [h.strip() for h in next(reader, [])]
        rows: list[tuple[int, list[str]]] = []
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationError(f"Line {reader.line_num}: the file is not valid CSV ({exc}).", field="file") from None
    if not any(headers):
        raise ValidationError("The file is empty or has no header row.", field="file")
    if len(set(headers)) != len(headers):
        raise ValidationError("Two columns have the same name in the header row.", field="file")
    return CsvFile(headers, rows, encoding, delimiter)


def _normal(header: str) -> str:
    return " ".join(re.sub(r"[_\-.:/]+", " ", header.lower()).split())


def suggest_mapping(headers: list[str]) -> dict[str, str | None]:
    """A first guess of column -> field from the header names (None: not imported)."""
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for header in headers:
        normal = _normal(header)
        match = next((f for f, names in _ALIASES.items() if normal in names and f not in taken), None)
        mapping[header] = match
        if match:
            taken.add(match)
    return mapping


def check_mapping(headers: list[str], mapping: dict[str, str | None]) -> dict[str, str]:
    """Field -> column, refusing unknown columns or fields, a field twice, or no name."""
    fields: dict[str, str] = {}
    for column, field in mapping.items():
        if not field:
            continue
        if column not in headers:
            raise ValidationError(f"The file has no column {column!r}.", field="mapping")
        if field not in FIELD_LABELS:
            raise ValidationError(f"{field!r} cannot be imported (ids, the business and opt-outs never are).",
                                  field="mapping")
        if field in fields:
            raise ValidationError(f"Two columns are mapped to {FIELD_LABELS[field]}.", field="mapping")
        fields[field] = column
    if "name" not in fields:
        raise ValidationError("Map a column to Name.", field="mapping")
    if "phone" not in fields and "email" not in fields:
        raise ValidationError("Map a column to Phone or Email, so importing again never duplicates anyone.",
                              field="mapping")
    if "marketing_consent" in fields and not {"marketing_consent_source", "marketing_consent_date"} <= set(fields):
        raise ValidationError("Marketing consent can be imported only with its source and date columns.",
                              field="mapping")
    return fields


def unneutralise(value: str) -> str:
    """Undo the export's spreadsheet-safety quote: ``'=x`` -> ``=x``, ``''=x`` -> ``'=x``."""
    if value.startswith("'") and value.lstrip("'")[:1] in _TRIGGERS and value.lstrip("'"):
        return value[1:]
    return value
