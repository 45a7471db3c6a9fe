"""50 concurrent attempts to book the same staff member into overlapping times, on SQLite
and (KAIMEN_BENCH_POSTGRES_URL) PostgreSQL, with threads and with processes: exactly one
succeeds in every run, the others get a Conflict that names the winner's time.

Usage: python bench/bookings_concurrency.py [--runs 5] [--attempts 50] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bookings_common import ZONE, databases, make_salon

from kaimen_core import bookings, db
from kaimen_core.exceptions import Conflict
from kaimen_core.models import utcnow


def attempt(owner, staff_id: int, service_id: int, start: datetime) -> str:
    try:
        with db.tenant_session(owner) as session:
            bookings.create_booking(session, actor=owner, staff_id=staff_id, service_id=service_id, start_at=start)
        return "booked"
    except Conflict as exc:
        return "conflict" if str(exc).startswith("Stylist 0 is already booked ") else f"conflict?{exc}"
    except Exception as exc:  # anything else is a failure of the guarantee
        return f"error:{type(exc).__name__}:{exc}"


def _in_process(barrier, results, index: int, owner, staff_id: int, service_id: int, start: datetime) -> None:
    db.reset_engine(close=False)  # a fresh engine: never share the parent's connections after fork
    barrier.wait()
    results.put((index, attempt(owner, staff_id, service_id, start)))


def run(mode: str, owner, staff_id: int, service_id: int, day, attempts: int) -> list[str]:
    zone = ZoneInfo(ZONE)
    starts = [datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC) + timedelta(hours=15, minutes=i)
              for i in range(attempts)]  # 10:00, 10:01, ... local: every pair overlaps
    if mode == "threads":
        # Make the process's engine first: kaimen_core.db.get_engine is an lru_cache, and 50 threads
        # calling it at once on a cold cache would each build an engine (and a pool) of their own.
        db.get_engine()
        barrier = threading.Barrier(attempts)

        def go(start):
            barrier.wait()
            return attempt(owner, staff_id, service_id, start)

        with ThreadPoolExecutor(max_workers=attempts) as pool:
            return list(pool.map(go, starts))
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(attempts), context.Queue()
    processes = [context.Process(target=_in_process, args=(barrier, results, i, owner, staff_id, service_id, start))
                 for i, start in enumerate(starts)]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    return [outcomes[i] for i in range(attempts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--attempts", type=int, default=50)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    runs, attempts = max(1, min(args.runs, 20)), max(2, min(args.attempts, 60))
    for n, (kind, _owner_url) in enumerate(databases(args.db.split(","))):
        owner, service_id, staff_ids = make_salon(100 + n, 1, duration=60)
        first = (utcnow().astimezone(ZoneInfo(ZONE)) + timedelta(days=2)).date()
        for m, mode in enumerate(("threads", "processes")):
            for r in range(runs):
                day = first + timedelta(days=m * runs + r)
                began = time.perf_counter()
                outcomes = run(mode, owner, staff_ids[0], service_id, day, attempts)
                took = time.perf_counter() - began
                booked, refused = outcomes.count("booked"), outcomes.count("conflict")
                other = [o for o in outcomes if o not in ("booked", "conflict")]
                verdict = "ok" if booked == 1 and refused == attempts - 1 else "FAILED"
                print(f"{kind:9s} {mode:9s} run {r + 1}: {booked} booked, {refused} refused with a clear "
                      f"Conflict, {len(other)} other   {took:5.2f} s   {verdict}" + (f"  {other[:2]}" if other else ""))
                db.reset_engine()


if __name__ == "__main__":
    main()
