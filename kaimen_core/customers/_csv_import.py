"""CSV import: a row-by-row report before anything is written, then all valid rows in
one transaction (or nothing). Duplicates by phone (or, without a phone, by email), in
the file and against existing customers, are updated or skipped; importing the same
file twice changes nothing the second time.

Rows are checked one at a time (``_csv_check``; each distinct phone text is read once per
file); the customers they already are, and the writes, go to the database as whole sets
(``_csv_write``), so a 100,000-row file takes a handful of statements, not one per row.
On PostgreSQL a long file for a business without customers yet (a new business bringing
its list) is written a chunk at a time while the next chunk is checked, so PostgreSQL's
index work and Python's checking run side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, exists, select
from sqlmodel import Session

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.customers._csv_check import CheckedRow, ImportReport, RowChecker, RowIssue
from kaimen_core.customers._csv_read import CsvFile, check_mapping, read_csv
from kaimen_core.customers._csv_write import existing_customers, new_customer_ids, write_rows
from kaimen_core.customers._directory import business_region
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import Customer, utcnow
from kaimen_core.models.customers import CustomerCreate, customer_search_text

__all__ = ["DUPLICATE_POLICIES", "ImportReport", "RowIssue", "import_customers"]

DUPLICATE_POLICIES = ("update", "skip")
_PROGRESS_EVERY = 5000  # rows checked between progress reports
_CHECKED = 0.5  # the share of the progress bar that checking the rows fills
_STREAM_CHUNK = 10_000  # rows checked, then written while the next ones are checked


_NEW_ROW = {"phone_e164": None, "email": None, "notes": None, "tags": [], "preferred_language": None,
            "time_zone": None, "transactional_consent": True, "marketing_consent": False, "opted_out_at": None,
            "restricted_at": None, "marketing_consent_method": None, "marketing_consent_at": None}
#: What an import changes on a customer it finds: every editable field but the phone it was
#: found by, and the consent.
_UPDATABLE = (*(column for column in CustomerCreate.inputs().values() if column != "phone_e164"),
              "transactional_consent", "marketing_consent", "marketing_consent_method", "marketing_consent_at")


def _consent_event(business_id: int, customer_id: int, values: dict[str, Any], actor: Actor) -> dict[str, Any]:
    granted = values["marketing_consent"]
    return {"business_id": business_id, "customer_id": customer_id, "kind": "marketing", "granted": granted,
            "method": values.get("marketing_consent_method") or "import", "wording": values.get("wording"),
            "captured_by_user_id": actor.user_id, "message_id": None, "detail": {"via": "csv_import"},
            "occurred_at": values.get("marketing_consent_at") or utcnow(), "created_at": utcnow()}


def _forward_only(progress: Callable[[float], None]) -> Callable[[float], None]:
    """``progress`` never told a smaller fraction than before (a streamed file that falls
    back to the whole-file path starts checking again)."""
    furthest = [0.0]

    def forward(done: float) -> None:
        if done >= furthest[0]:
            furthest[0] = done
            progress(done)

    return forward


def _count_issues(report: ImportReport) -> None:
    report.refused = sum(1 for issue in report.issues if issue.outcome == "refused")
    report.skipped = sum(1 for issue in report.issues if issue.outcome == "skipped")


def _check_all(checker: RowChecker, rows: list[tuple[int, list[str]]],
               progress: Callable[[float], None] | None) -> list[CheckedRow]:
    for start in range(0, len(rows), _PROGRESS_EVERY):
        checker.feed(rows[start:start + _PROGRESS_EVERY])
        if progress:
            progress(_CHECKED * min(start + _PROGRESS_EVERY, len(rows)) / len(rows))
    return checker.kept()


def _write(session: Session, actor: Actor, rows: list[CheckedRow], on_duplicate: str, report: ImportReport,
           dry_run: bool, progress: Callable[[float], None] | None, now: datetime) -> None:
    business_id = actor.business_id
    connection = session.connection()
    by_phone, by_email = existing_customers(connection, business_id,
                                            [r.key[1] for r in rows if r.key[0] == "phone"],
                                            [r.key[1] for r in rows if r.key[0] == "email"])
    creates: list[CheckedRow] = []
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
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
            merged["search_text"] = customer_search_text(merged["name"], merged["email"], current["phone_e164"],
                                                         merged["tags"])
            updates.append({"id": current["id"], **merged, "updated_at": now})
            report.updated += 1
    if dry_run:
        return
    created = _new_customers(connection, actor, creates, now, events)
    # A customer found once by phone and again (another row, no phone) by email: each
    # change sets every updatable column, so the later line's alone gives the same result.
    updates = list({change["id"]: change for change in updates}.values())
    total = max(len(created) + len(updates), 1)
    write_rows(connection, business_id=business_id, created=created, updated=updates, events=events,
               progress=progress and (lambda done: progress(_CHECKED + (1 - _CHECKED) * done / total)))
    report.written = True


def _new_customers(connection: Connection, actor: Actor, rows: list[CheckedRow], now: datetime,
                   events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer rows to insert for ``rows`` (ids taken now); their consent events go to ``events``."""
    created: list[dict[str, Any]] = []
    for row, customer_id in zip(rows, new_customer_ids(connection, len(rows)), strict=True):
        # A plain row (not a model instance per line): validation already happened above.
        record = {**_NEW_ROW, "id": customer_id, "business_id": actor.business_id, "created_at": now,
                  "updated_at": now, **{k: v for k, v in row.values.items() if k != "wording"}}
        record["search_text"] = customer_search_text(record["name"], record["email"], record["phone_e164"],
                                                     record["tags"])
        created.append(record)
        if row.values.get("marketing_consent"):
            events.append(_consent_event(actor.business_id, customer_id, row.values, actor))
    return created


def _streamable(session: Session, actor: Actor, csv_file: CsvFile, dry_run: bool) -> bool:
    """Whether rows may be written while later ones are still checked: on PostgreSQL, for a
    long file, into a business without customers (so every kept row is a new customer)."""
    connection = session.connection()
    return (not dry_run and connection.dialect.name == "postgresql" and len(csv_file.rows) > _STREAM_CHUNK
            and not connection.execute(select(exists().where(Customer.business_id == actor.business_id))).scalar())


def _stream(session: Session, actor: Actor, csv_file: CsvFile, checker: RowChecker, report: ImportReport,
            progress: Callable[[float], None] | None, now: datetime) -> bool:
    """Check the rows a chunk at a time, writing each checked chunk (another thread waits on
    PostgreSQL) while the next is checked. Exactly what checking everything first would
    write, since the business had no customers; except when a later row replaces an
    earlier chunk's row: then nothing stays written and this returns False."""
    connection = session.connection()
    connection.exec_driver_sql("SAVEPOINT kaimen_import")
    rows, writing = csv_file.rows, None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kaimen-import") as writer:
        try:
            for start in range(0, len(rows), _STREAM_CHUNK):
                checked = checker.feed(rows[start:start + _STREAM_CHUNK])
                if progress:
                    progress(min(start + _STREAM_CHUNK, len(rows)) / len(rows))
                _wait(writing)
                writing = None
                if checker.replaced_earlier_chunk:
                    connection.exec_driver_sql("ROLLBACK TO SAVEPOINT kaimen_import")
                    return False
                events: list[dict[str, Any]] = []
                created = _new_customers(connection, actor, checked, now, events)
                report.created += len(created)
                writing = writer.submit(write_rows, connection, business_id=actor.business_id, created=created,
                                        updated=[], events=events)
            _wait(writing)
            writing = None
        finally:
            if writing is not None:  # an error while checking: let the write end before the rollback
                writing.exception()
    connection.exec_driver_sql("RELEASE SAVEPOINT kaimen_import")
    report.written = True
    return True


def _wait(writing: Future | None) -> None:
    if writing is not None:
        writing.result()


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
    region, now = business_region(session, actor=actor), utcnow()
    if progress:
        progress = _forward_only(progress)
        progress(0.0)
    report = ImportReport()
    streamed = _streamable(session, actor, csv_file, dry_run) and _stream(
        session, actor, csv_file, RowChecker(csv_file.headers, fields, region, report, on_duplicate), report,
        progress, now)
    if streamed:
        _count_issues(report)
    else:
        report = ImportReport()
        valid = _check_all(RowChecker(csv_file.headers, fields, region, report, on_duplicate), csv_file.rows,
                           progress)
        _count_issues(report)  # the file's own; _write adds rows skipped as existing customers
        _write(session, actor, valid, on_duplicate, report, dry_run, progress, now)
    if progress:
        progress(1.0)
    report.issues.sort(key=lambda issue: issue.line)
    if report.written:
        audit.record(session, actor=actor, action="customers.imported", target_type="customers",
                     detail={"rows": report.rows, "created": report.created, "updated": report.updated,
                             "unchanged": report.unchanged, "skipped": report.skipped, "refused": report.refused,
                             "via": "cli" if actor.is_system else "page"})
    return report

