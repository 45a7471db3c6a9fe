"""Export 1,000,000 customers on PostgreSQL: rows/s and peak memory of the exporting
process, against ``psql \\copy`` of the same customers in the same run.

Targets (issue 3): at least 0.5 of psql's speed; peak memory under 250 MB.
The export runs in a child process (the same code path as ``python -m kaimen_core
export-customers``, as the app's RLS-bound role) so its peak RSS is its own.

Usage: python bench/customers_export.py [--rows 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from customers_seed import TMP, bench_database, new_business, psql_url, seed_customers


def child(slug: str, out: str) -> None:
    """Runs in the child: export, then report seconds, rows and peak RSS."""
    from kaimen_core import customers

    start = time.perf_counter()
    with open(out, "wb") as handle:
        rows = customers.operator_export(business_slug=slug, out=handle)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{seconds} {rows} {peak_kb}")


def main() -> None:
    parser = argparse.ArgumentParser(description="customer export bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("SLUG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = min(args.rows, 5_000_000)
    with bench_database("export") as database:
        actor, slug = new_business(1)
        seeded = seed_customers(database.owner_url, actor.business_id, rows)
        print(f"seeded {rows:,} customers in {seeded:.1f} s")
        ours_file, psql_file = TMP / "export.csv", TMP / "psql.csv"
        psql_times, ours = [], []
        for _ in range(max(1, min(args.rounds, 5))):
            start = time.perf_counter()
            subprocess.run(
                ["psql", psql_url(database.owner_url), "-q", "-c",
                 f"\\copy (SELECT * FROM customers WHERE business_id = {actor.business_id}) TO '{psql_file}' "
                 "WITH (FORMAT csv, HEADER)"], check=True, timeout=600)
            psql_times.append(time.perf_counter() - start)
            done = subprocess.run([sys.executable, __file__, "--child", slug, str(ours_file)], check=True,
                                  capture_output=True, text=True, timeout=600)
            seconds, exported, peak_kb = done.stdout.split()
            ours.append((float(seconds), int(exported), int(peak_kb)))
        base = min(psql_times)
        best = min(ours)
        peak_mb = max(o[2] for o in ours) / 1024
        print(f"psql \\copy (SELECT * ...)   {base:6.2f} s  {rows / base:12,.0f} rows/s  "
              f"{psql_file.stat().st_size / 1e6:6.1f} MB")
        print(f"kaimen export (COPY, RLS)   {best[0]:6.2f} s  {best[1] / best[0]:12,.0f} rows/s  "
              f"{ours_file.stat().st_size / 1e6:6.1f} MB  rows {best[1]:,}")
        print(f"speed ratio kaimen/psql     {base / best[0]:6.2f}   (target >= 0.50)")
        print(f"peak RSS of the exporting process {peak_mb:6.1f} MB   (target < 250 MB)")
        ours_file.unlink(missing_ok=True)
        psql_file.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
