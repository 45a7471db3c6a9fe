"""Import 100,000 customers from a CSV: rows/s, through kaimen_core.customers.import_customers
as the owner (the page's path: parse, validate every row, then write in one transaction).

Target: at least 5,000 rows/s. The same-run baseline is the database's own bulk load of
the same rows (``INSERT ... SELECT FROM generate_series`` in the seed helper), printed
for scale. PostgreSQL always; SQLite too with --sqlite.

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

from customers_seed import FIRST, LAST, TMP, bench_database, new_business, seed_customers

from kaimen_core import config, customers, db

MAPPING = {"name": "name", "phone": "phone", "email": "email", "tags": "tags", "marketing_consent": "marketing_consent",
           "marketing_consent_source": "marketing_consent_source", "marketing_consent_date": "marketing_consent_date"}


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


def run(label: str, rows: int, data: bytes, baseline: float | None) -> None:
    actor, _ = new_business(3 if label == "postgres" else 4)
    start = time.perf_counter()
    with db.tenant_session(actor) as session:
        report = customers.import_customers(session, actor=actor, data=data, mapping=MAPPING,
                                            max_bytes=len(data) + 1)
    seconds = time.perf_counter() - start
    rate = report.created / seconds
    line = (f"{label:9s} import {report.created:,} rows in {seconds:6.2f} s = {rate:9,.0f} rows/s  "
            f"(refused {report.refused}; target 5,000 rows/s: ratio {rate / 5000:5.2f})")
    if baseline:
        line += f"; database bulk load of the same count {rows / baseline:9,.0f} rows/s"
    print(line)
    start = time.perf_counter()
    with db.tenant_session(actor) as session:
        again = customers.import_customers(session, actor=actor, data=data, mapping=MAPPING, max_bytes=len(data) + 1)
    print(f"{label:9s} same file again: unchanged {again.unchanged:,}, created {again.created} "
          f"in {time.perf_counter() - start:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description="customer import bench")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    rows = min(args.rows, 1_000_000)
    data = make_file(rows)
    print(f"file: {rows:,} rows, {len(data) / 1e6:.1f} MB")
    with bench_database("import") as database:
        other, _ = new_business(1)
        baseline = seed_customers(database.owner_url, other.business_id, rows)
        run("postgres", rows, data, baseline)
    if args.sqlite:
        path = TMP / "bench.db"
        os.environ["KAIMEN_DATABASE_URL"] = os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = f"sqlite:///{path}"
        config.reset_settings()
        db.reset_engine()
        db.migrate()
        try:
            run("sqlite", rows, data, None)
        finally:
            db.reset_engine()
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
