"""CSV import: a row-by-row report before anything is written, then all valid rows in
one transaction (or nothing). Duplicates by phone (or, without a phone, by email), in
the file and against existing customers, are updated or skipped; importing the same
file twice changes nothing the second time.

Rows are checked one at a time (each distinct phone text is read once per file); the
customers they already are, and the writes, go to the database as whole sets
(``_csv_write``), so a 100,000-row file takes a handful of statements, not one per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.customers._csv_read import check_mapping, read_csv, unneutralise
from kaimen_core.customers._csv_write import existing_customers, new_customer_ids, write_rows
from kaimen_core.customers._directory import business_region
from kaimen_core.customers._fields import CustomerFields, PhoneReader, clean_consent_method, search_text
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import utcnow

__all__ = ["DUPLICATE_POLICIES", "ImportReport", "RowIssue", "import_customers"]

DUPLICATE_POLICIES = ("update", "skip")
_YES = {"yes", "y", "true", "1", "x", "si", "sí", "oui", "ja"}
_NO = {"no", "n", "false", "0", ""}
_PROGRESS_EVERY = 5000  # rows checked between progress reports
_CHECKED = 0.5  # the share of the progress bar that checking the rows fills


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
class _Row:
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


def _clean_row(cells: dict[str, str], region: str, read_phone: PhoneReader) -> dict[str, Any]:
    """The row's values for the mapped fields, cleaned; raises ValidationError naming the field."""
    fields = CustomerFields.clean(region=region, name=cells.get("name"), phone=cells.get("phone"),
                                  email=cells.get("email"), notes=cells.get("notes"), tags=cells.get("tags"),
                                  preferred_language=cells.get("preferred_language"),
                                  time_zone=cells.get("time_zone"), read_phone=read_phone)
    if not fields.phone_e164 and not fields.email:
        raise ValidationError("A row needs a phone number or an email.", field="phone")
    values: dict[str, Any] = {k: v for k, v in vars(fields).items() if k == "name" or cells.get(_SOURCE[k], "")}
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


_SOURCE = {"name": "name", "phone_e164": "phone", "email": "email", "notes": "notes", "tags": "tags",
           "preferred_language": "preferred_language", "time_zone": "time_zone"}


def _validate(rows: list[tuple[int, list[str]]], headers: list[str], fields: dict[str, str], region: str,
              report: ImportReport, on_duplicate: str, progress: Callable[[float], None] | None) -> list[_Row]:
    index = {f: headers.index(column) for f, column in fields.items()}
    width = len(headers)
    read_phone = PhoneReader(region)
    valid: dict[tuple[str, str], _Row] = {}
    report.rows = len(rows)
    for n, (line, raw) in enumerate(rows, 1):
        if progress and not n % _PROGRESS_EVERY:
            progress(_CHECKED * n / len(rows))
        if len(raw) > width:
            report.issues.append(RowIssue(line, None, f"{len(raw)} cells, but the header has {width} columns."))
            continue
        cells = {f: "" if i >= len(raw) else unneutralise(raw[i]) if raw[i][:1] == "'" else raw[i]
                 for f, i in index.items()}
        try:
            values = _clean_row(cells, region, read_phone)
        except ValidationError as exc:
            column = fields.get({"phone_e164": "phone"}.get(exc.field or "", exc.field or ""))
            report.issues.append(RowIssue(line, column, str(exc)))
            continue
        key = ("phone", values["phone_e164"]) if values.get("phone_e164") else ("email", values["email"])
        earlier = valid.get(key)
        if earlier is not None:
            kept, dropped = (earlier, line) if on_duplicate == "skip" else (None, earlier.line)
            report.issues.append(RowIssue(dropped, fields.get(key[0]),
                                          f"Same {key[0]} as line {line if kept is None else earlier.line} "
                                          "in this file; " + ("the first row is kept." if kept else
                                                              "the later row is kept."), "skipped"))
            if kept is not None:
                continue
        valid[key] = _Row(line, values, key)
    return sorted(valid.values(), key=lambda r: r.line)


_NEW_ROW = {"phone_e164": None, "email": None, "notes": None, "tags": [], "preferred_language": None,
            "time_zone": None, "transactional_consent": True, "marketing_consent": False, "opted_out_at": None,
            "restricted_at": None, "marketing_consent_method": None, "marketing_consent_at": None}
_UPDATABLE = ("name", "email", "notes", "tags", "preferred_language", "time_zone", "transactional_consent",
              "marketing_consent", "marketing_consent_method", "marketing_consent_at")


def _consent_event(business_id: int, customer_id: int, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
    granted = values["marketing_consent"]
    return {"business_id": business_id, "customer_id": customer_id, "kind": "marketing", "granted": granted,
            "method": values.get("marketing_consent_method") or "import", "wording": values.get("wording"),
            "captured_by_user_id": actor.user_id, "message_id": None, "detail": {"via": "csv_import"},
            "occurred_at": values.get("marketing_consent_at") or utcnow(), "created_at": utcnow()}


def _write(session: Session, actor: Actor, rows: list[_Row], on_duplicate: str, report: ImportReport,
           dry_run: bool, progress: Callable[[float], None] | None) -> None:
    business_id = actor.business_id
    connection = session.connection()
    by_phone, by_email = existing_customers(connection, business_id,
                                            [r.key[1] for r in rows if r.key[0] == "phone"],
                                            [r.key[1] for r in rows if r.key[0] == "email"])
    creates: list[_Row] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    now = utcnow()
    for row in rows:
        current = (by_phone if row.key[0] == "phone" else by_email).get(row.key[1])
        if current is None:
            creates.append(row)
            report.created += 1
        elif on_duplicate == "skip":
            report.skipped += 1
            report.issues.append(RowIssue(row.line, None, "Already a customer; skipped.", "skipped"))
        elif current["restricted_at"] is not None:
            report.skipped += 1
            report.issues.append(RowIssue(row.line, None, "This customer's data is restricted (privacy request); "
                                          "not changed.", "skipped"))
        else:
            merged = {k: row.values.get(k, current[k]) for k in _UPDATABLE}
            if current["opted_out_at"] is not None and merged["marketing_consent"] and not current[
                    "marketing_consent"]:
                merged["marketing_consent"] = False  # an opt-out is only undone by the customer (START)
                merged["marketing_consent_method"] = merged["marketing_consent_at"] = None
            if not merged["marketing_consent"]:
                merged["marketing_consent_method"] = merged["marketing_consent_at"] = None
            if all(_same(merged[k], current[k]) for k in _UPDATABLE):
                report.unchanged += 1
                continue
            if merged["marketing_consent"] != current["marketing_consent"] or not _same(
                    merged["marketing_consent_at"], current["marketing_consent_at"]):
                events.append(_consent_event(business_id, current["id"], {**merged, **row.values}, actor))
            merged["search_text"] = search_text(merged["name"], merged["email"], current["phone_e164"],
                                                merged["tags"])
            updates.append({"id": current["id"], **merged, "updated_at": now})
            report.updated += 1
    if dry_run:
        return
    created: list[dict[str, Any]] = []
    for row, customer_id in zip(creates, new_customer_ids(connection, len(creates)), strict=True):
        # A plain row (not a model instance per line): validation already happened above.
        record = {**_NEW_ROW, "id": customer_id, "business_id": business_id, "created_at": now, "updated_at": now,
                  **{k: v for k, v in row.values.items() if k != "wording"}}
        record["search_text"] = search_text(record["name"], record["email"], record["phone_e164"], record["tags"])
        created.append(record)
        if row.values.get("marketing_consent"):
            events.append(_consent_event(business_id, customer_id, row.values, actor))
    # A customer found once by phone and again (another row, no phone) by email: each
    # change sets every updatable column, so the later line's alone gives the same result.
    updates = list({change["id"]: change for change in updates}.values())
    total = max(len(created) + len(updates), 1)
    write_rows(connection, business_id=business_id, created=created, updated=updates, events=events,
               progress=progress and (lambda done: progress(_CHECKED + (1 - _CHECKED) * done / total)))
    report.written = True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    return a == b


def import_customers(
    session: Session,
    *,
    actor: Actor,
    data: bytes,
    mapping: dict[str, str | None],
    on_duplicate: str = "update",
    dry_run: bool = False,
    max_bytes: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> ImportReport:
    """Check every row of a CSV and, unless ``dry_run``, write the valid ones in this transaction.

    Owners only (and Kaimen's operator command line, as the system actor for one
    business). ``mapping`` is column -> field (see FIELD_LABELS); ids, the business and
    opt-out state can never be imported. Any error before the end leaves nothing written.
    """
    if not (actor.role == "owner" or (actor.is_system and actor.business_id is not None)):
        raise PermissionDenied("Only owners can import customers.")
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ValidationError("Duplicates are either updated or skipped.", field="on_duplicate")
    csv_file = read_csv(data) if max_bytes is None else read_csv(data, max_bytes=max_bytes)
    fields = check_mapping(csv_file.headers, mapping)
    report = ImportReport()
    if progress:
        progress(0.0)
    valid = _validate(csv_file.rows, csv_file.headers, fields, business_region(session, actor=actor), report,
                      on_duplicate, progress)
    report.refused = sum(1 for issue in report.issues if issue.outcome == "refused")
    report.skipped = sum(1 for issue in report.issues if issue.outcome == "skipped")
    _write(session, actor, valid, on_duplicate, report, dry_run, progress)
    if progress:
        progress(1.0)
    report.issues.sort(key=lambda issue: issue.line)
    if report.written:
        audit.record(session, actor=actor, action="customers.imported", target_type="customers",
                     detail={"rows": report.rows, "created": report.created, "updated": report.updated,
                             "unchanged": report.unchanged, "skipped": report.skipped, "refused": report.refused,
                             "via": "cli" if actor.is_system else "page"})
    return report

