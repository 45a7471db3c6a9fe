"""Free slots for 50 staff over 30 days: with 20,000 existing bookings against the same
query with 200 (target ratio at most 3), on SQLite and (KAIMEN_BENCH_POSTGRES_URL) PostgreSQL.

The bookings are half-hour appointments spread over the 30 days being searched (with
20,000 that is about 13 of each stylist's 16 half-hours a day), written in bulk.
Usage: python bench/bookings_availability.py [--rounds 5] [--db sqlite,postgres]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bookings_common import ZONE, databases, make_salon
from sqlalchemy import text

from kaimen_core import bookings, db
from kaimen_core.models import Booking, utcnow

STAFF, DAYS = 50, 30


def fill(owner_url: str, business_id: int, service_id: int, staff_ids: list[int], count: int, first) -> None:
    """``count`` non-overlapping half-hour bookings in the window, spread over staff and days."""
    rng = random.Random(count)
    zone = ZoneInfo(ZONE)
    cells = [(s, d, h) for s in staff_ids for d in range(DAYS) for h in range(16)]
    chosen = rng.sample(cells, count)
    now = utcnow()
    rows = []
    for staff_id, day, half_hour in chosen:
        local = datetime.combine(first + timedelta(days=day), datetime.min.time(), tzinfo=zone) + timedelta(
            hours=9, minutes=30 * half_hour)
        start = local.astimezone(UTC)
        rows.append({"business_id": business_id, "staff_id": staff_id, "service_id": service_id, "start_at": start,
                     "end_at": start + timedelta(minutes=30), "occupied_until": start + timedelta(minutes=30),
                     "status": "booked", "created_at": now, "updated_at": now})
    owner = db.create_engine_for(owner_url)
    with owner.begin() as connection:
        if owner.dialect.name == "postgresql":
            connection.execute(text("SELECT set_config('app.cross_tenant', 'on', true)"))
        connection.execute(Booking.__table__.insert(), rows)
        connection.execute(text("ANALYZE"))
    owner.dispose()


def timed(owner, service_id: int, first, rounds: int) -> tuple[float, int]:
    found = 0
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        with db.tenant_session(owner) as session:
            found = len(bookings.free_slots(session, actor=owner, service_id=service_id, start_date=first,
                                            end_date=first + timedelta(days=DAYS - 1), step_minutes=30))
        times.append(time.perf_counter() - start)
    return statistics.median(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgres")
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 20))
    first = (utcnow().astimezone(ZoneInfo(ZONE)) + timedelta(days=1)).date()
    for n, (kind, owner_url) in enumerate(databases(args.db.split(","))):
        results = {}
        for count in (200, 20_000):
            owner, service_id, staff_ids = make_salon(n * 10 + (count > 200), STAFF)
            fill(owner_url, owner.business_id, service_id, staff_ids, count, first)
            results[count] = timed(owner, service_id, first, rounds)
        (small, small_slots), (big, big_slots) = results[200], results[20_000]
        print(f"{kind:9s} free slots, {STAFF} staff x {DAYS} days: 200 bookings {small * 1e3:7.1f} ms "
              f"({small_slots} free)   20,000 bookings {big * 1e3:7.1f} ms ({big_slots} free)   "
              f"ratio {big / small:4.2f} (target <= 3)")


if __name__ == "__main__":
    main()
