"""Cost of the session check every Streamlit rerun makes, and of row-level security.

Prints ratios against baselines measured in the same run:
  * resolve_session (cookie -> actor, checked in the database) versus a bare
    ``SELECT 1`` round trip through a session, on SQLite and (when
    KAIMEN_BENCH_POSTGRES_URL names a superuser URL) PostgreSQL;
  * on PostgreSQL, a tenant's customer count through row-level security versus the
    same query as the table owner with an explicit WHERE (RLS bypassed).

Everything runs on 127.0.0.1, in a throwaway data folder and database, bounded in count.
Usage: python bench/session_check.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import text
from throwaway import ADMIN_HINT, postgres_database, sqlite_database

from kaimen_core import db, tenancy
from kaimen_core.actors import Origin
from kaimen_core.auth import resolve_session
from kaimen_core.models import Customer, utcnow

PASSWORD = "bench password 123"


def _timed(fn, calls: int) -> float:
    """Median seconds per call over five rounds."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls // 5):
            fn()
        rounds.append((time.perf_counter() - start) / (calls // 5))
    return statistics.median(rounds)


def _sign_up(n: int) -> tuple[str, object]:
    signed_in = tenancy.sign_up(
        business_name=f"Bench {n}", owner_name="Bench Owner", email=f"bench{n}@example.com",
        phone="+12125550100", region="US", time_zone="UTC", password=PASSWORD, confirm_password=PASSWORD,
        origin=Origin(),
    )
    return signed_in.cookie, signed_in.actor


def session_check(label: str, calls: int) -> None:
    cookie, _ = _sign_up(1)

    def bare() -> None:
        with db.system_session() as session:
            session.exec(text("SELECT 1")).one()

    base = _timed(bare, calls)
    check = _timed(lambda: resolve_session(cookie=cookie), calls)
    print(f"{label:10s} session check {check * 1e3:7.3f} ms/call   bare round trip {base * 1e3:7.3f} ms/call"
          f"   ratio {check / base:5.2f}")


def rls_cost(owner_url: str, calls: int, customers: int = 100_000, businesses: int = 10) -> None:
    actors = [_sign_up(100 + n)[1] for n in range(businesses)]
    owner = db.create_engine_for(owner_url)
    moment = utcnow()
    with owner.begin() as connection:
        rows = [{"business_id": actors[i % businesses].business_id, "name": f"Customer {i}"} for i in range(customers)]
        connection.execute(Customer.__table__.insert(), [
            {**row, "tags": [], "transactional_consent": True, "marketing_consent": False,
             "created_at": moment, "updated_at": moment} for row in rows])
        connection.execute(text("ANALYZE customers"))
    actor = actors[0]
    query = text("SELECT count(*) FROM customers WHERE business_id = :b")

    def as_owner() -> None:
        with owner.connect() as connection:
            connection.execute(query, {"b": actor.business_id}).one()

    def through_rls() -> None:
        # kaimen_core's queries always name the business too; RLS is the second lock.
        with db.tenant_session(actor) as session:
            session.exec(query, params={"b": actor.business_id}).one()

    base = _timed(as_owner, calls)
    rls = _timed(through_rls, calls)
    print(f"postgres   tenant count via RLS {rls * 1e3:7.3f} ms   owner with WHERE {base * 1e3:7.3f} ms"
          f"   ratio {rls / base:5.2f}   ({customers} customers in {businesses} businesses)")
    owner.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    calls = max(parser.parse_args().calls, 50)

    sqlite_database()
    session_check("sqlite", calls)

    with postgres_database("session") as owner_url:
        if owner_url is None:
            print(f"postgres   skipped: {ADMIN_HINT}")
            return
        session_check("postgres", calls)
        rls_cost(owner_url, calls)


if __name__ == "__main__":
    main()
