"""Import 100,000 customers from a CSV: rows/s, through kaimen_core.customers.import_customers
as the owner (the page's path: parse, validate every row, then write in one transaction),
first into an empty business and then the same file again (every row unchanged).

Target: at least 5,000 rows/s for the first import. The same-run baseline is PostgreSQL's
own bulk load of the same rows: ``COPY customers FROM STDIN`` (binary, as the database's
owner, every index in place) of exactly the customer rows the import wrote, into another
business of the same database. Both imports are printed as rows/s and as a ratio to that
COPY. Another business holds as many customers before the import starts, so indexes
are not empty. PostgreSQL always; SQLite too with --sqlite (no baseline there).

Usage: python bench/customers_import.py [--rows 100000] [--sqlite]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from customers_seed import FIRST, LAST, TMP, bench_database, new_business, psql_url, seed_customers

from kaimen_core import config, customers, db

MAPPING = {"name": "name", "phone": "phone", "email": "email", "tags": "tags", "marketing_consent": "marketing_consent",
           "marketing_consent_source": "marketing_consent_source", "marketing_consent_date": "marketing_consent_date"}
COLUMNS = ("business_id, name, phone_e164, email, notes, tags, preferred_language, time_zone, transactional_consent, "
           "marketing_consent, opted_out_at, restricted_at, marketing_consent_method, marketing_consent_at, "
           "search_text, created_at, updated_at")


def make_file(rows: int) -> bytes:
    """A realistic export-shaped file: national-format phones, some tags and consents."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(MAPPING))
    for i in range(1, rows + 1):
        consent = i % 5 == 0
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
        writer.writerow([name, f"(646) {200 + i // 10000:03d}-{i % 10000:04d}",
                         f"person{i}@example.com", "vip; regular" if i % 10 == 0 else "",
                         "yes" if consent else "no", "web form" if consent else "",
                         "2026-01-15" if consent else ""])
    return out.getvalue().encode("utf-8-sig")


def timed_import(actor, data: bytes) -> tuple[customers.ImportReport, float]:
    start = time.perf_counter()
    with db.tenant_session(actor) as session:
        report = customers.import_customers(session, actor=actor, data=data, mapping=MAPPING,
                                            max_bytes=len(data) + 1)
    return report, time.perf_counter() - start


def copy_baseline(owner_url: str, source_business: int, target_business: int) -> tuple[int, float]:
    """COPY the customer rows the import wrote into another business; (rows, seconds of the COPY)."""
    with psycopg.connect(psql_url(owner_url)) as connection:
        with connection.cursor() as cursor:
            out = io.BytesIO()
            columns = COLUMNS.replace("business_id", f"{int(target_business)}::bigint", 1)
            query = (f"COPY (SELECT {columns} FROM customers WHERE business_id = {int(source_business)} "
                     "ORDER BY id) TO STDOUT (FORMAT binary)")
            with cursor.copy(query) as copy:
                for block in copy:
                    out.write(block)
        connection.commit()
        start = time.perf_counter()
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY customers ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
                copy.write(out.getvalue())
            count = cursor.rowcount
        connection.commit()
        return count, time.perf_counter() - start


def rate(rows: int, seconds: float) -> float:
    return rows / seconds if seconds else float("inf")


def run_postgres(rows: int, data: bytes) -> None:
    with bench_database("import") as database:
        neighbours, _ = new_business(1)
        seed_customers(database.owner_url, neighbours.business_id, rows)
        actor, _ = new_business(3)
        target, _ = new_business(4)
        first, first_s = timed_import(actor, data)
        copied, copy_s = copy_baseline(database.owner_url, actor.business_id, target.business_id)
        again, again_s = timed_import(actor, data)
    copy_rate = rate(copied, copy_s)
    first_rate, again_rate = rate(first.rows, first_s), rate(again.rows, again_s)
    print(f"postgres COPY baseline: {copied:,} rows in {copy_s:6.2f} s = {copy_rate:9,.0f} rows/s")
    print(f"postgres first import : {first.created:,} created, {first.refused} refused in {first_s:6.2f} s = "
          f"{first_rate:9,.0f} rows/s  ratio to COPY {first_rate / copy_rate:4.2f}  "
          f"(target 5,000 rows/s: {first_rate / 5000:4.2f}x)")
    print(f"postgres same again   : {again.unchanged:,} unchanged, {again.created} created, {again.updated} updated "
          f"in {again_s:6.2f} s = {again_rate:9,.0f} rows/s  ratio to COPY {again_rate / copy_rate:4.2f}")


def run_sqlite(data: bytes) -> None:
    path = TMP / "bench.db"
    os.environ["KAIMEN_DATABASE_URL"] = os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = f"sqlite:///{path}"
    config.reset_settings()
    db.reset_engine()
    db.migrate()
    try:
        actor, _ = new_business(5)
        first, first_s = timed_import(actor, data)
        again, again_s = timed_import(actor, data)
        print(f"sqlite   first import : {first.created:,} created in {first_s:6.2f} s = "
              f"{rate(first.rows, first_s):9,.0f} rows/s")
        print(f"sqlite   same again   : {again.unchanged:,} unchanged in {again_s:6.2f} s = "
              f"{rate(again.rows, again_s):9,.0f} rows/s")
    finally:
        db.reset_engine()
        path.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="customer import bench")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    rows = min(args.rows, 1_000_000)
    data = make_file(rows)
    print(f"file: {rows:,} rows, {len(data) / 1e6:.1f} MB")
    run_postgres(rows, data)
    if args.sqlite:
        run_sqlite(data)


if __name__ == "__main__":
    main()
