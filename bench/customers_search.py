"""Search: the first page at 1,000,000 customers divided by the same at 1,000 (same
queries, same run, same database: one business of each size). Target: at most 2.

Each query goes through kaimen_core.customers.search_customers as the business's
owner, under row-level security, exactly as the Customers page asks it.

Usage: python bench/customers_search.py [--rows 1000000] [--calls 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from customers_seed import bench_database, new_business, seed_customers

from kaimen_core import customers, db

QUERIES = {
    "browse, sorted by name": {"query": None, "sort": "name"},
    "browse, newest first": {"query": None, "sort": "newest"},
    "name substring 'ana gar'": {"query": "ana gar", "sort": "name"},
    "phone fragment '555-0000777'": {"query": "0000777", "sort": "name"},
    "phone, national format": {"query": "(212) 000-0777", "sort": "name"},
    "email 'customer777@'": {"query": "customer777@", "sort": "name"},
    "tag 'vip'": {"query": "#vip", "sort": "name"},
}


def _median_ms(actor, calls: int, **kwargs) -> tuple[float, int]:
    times, found = [], 0
    for _ in range(calls):
        start = time.perf_counter()
        with db.tenant_session(actor) as session:
            found = len(customers.search_customers(session, actor=actor, **kwargs).customers)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, found


def main() -> None:
    parser = argparse.ArgumentParser(description="customer search bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    calls = max(5, min(args.calls, 200))
    with bench_database("search") as database:
        small, _ = new_business(1)
        big, _ = new_business(2)
        seed_customers(database.owner_url, small.business_id, 1_000, phone_prefix="+1212")
        seconds = seed_customers(database.owner_url, big.business_id, min(args.rows, 5_000_000), phone_prefix="+1212")
        print(f"seeded {args.rows:,} + 1,000 customers ({seconds:.1f} s); median of {calls} calls each")
        worst = 0.0
        for label, kwargs in QUERIES.items():
            _median_ms(small, 3, **kwargs)  # warm both
            _median_ms(big, 3, **kwargs)
            at_1k, n_small = _median_ms(small, calls, **kwargs)
            at_1m, n_big = _median_ms(big, calls, **kwargs)
            worst = max(worst, at_1m / at_1k)
            print(f"{label:32s} 1k: {at_1k:6.2f} ms ({n_small:2d} shown)  {args.rows // 1000:,}k: "
                  f"{at_1m:6.2f} ms ({n_big:2d} shown)  ratio {at_1m / at_1k:5.2f}")
        print(f"worst ratio {worst:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
