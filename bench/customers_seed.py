"""Bench helper: a throwaway PostgreSQL database for the customer benches, and fast
seeding of up to millions of customers for one business (not the demo).

Seeding runs as the database owner with one ``INSERT ... SELECT FROM generate_series``
(the same column values kaimen_core writes, search column included), with the table's
indexes rebuilt afterwards, so a million customers take seconds, not the minutes the
app's row-at-a-time path would.

Usage (prints its own figures): python bench/customers_seed.py [--rows 1000000]
The database is created on KAIMEN_BENCH_POSTGRES_URL's server (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
TMP = Path(tempfile.mkdtemp(prefix="kaimen-bench-"))
os.environ.update(KAIMEN_DATA_DIR=str(TMP), KAIMEN_BCRYPT_ROUNDS="4", KAIMEN_COOKIE_KEY="bench-" + "k" * 40,
                  KAIMEN_ENV="development")

import psycopg  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from kaimen_core import auth, config, db, tenancy  # noqa: E402
from kaimen_core.actors import Actor, Origin  # noqa: E402

ADMIN_URL = os.environ.get("KAIMEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password 123"
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Keiko", "Liam", "Maya",
         "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"]
LAST = ["Garcia", "Smith", "Nguyen", "Okafor", "Rossi", "Kowalski", "Haddad", "Tanaka", "Silva", "Murphy", "Larsen",
        "Novak", "Chen", "Dubois", "Schmidt", "Patel", "Ivanova", "Moreno", "Kim", "Cohen", "Walsh", "Yilmaz"]


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    owner_url: str  # the schema owner (superuser here): seeding and the psql baseline
    app_url: str  # the app's ordinary role, under row-level security
    reused: bool = False  # an earlier run's kept database, already seeded


@contextmanager
def bench_database(tag: str, *, keep: bool = False) -> Iterator[BenchDatabase]:
    """A new, migrated database on 127.0.0.1, pointed at by the app's settings; dropped afterwards.

    With ``keep`` the database is named by ``tag`` alone and kept for the next run, which
    reuses it (``reused`` is then true and the caller skips seeding); drop it with
    :func:`drop_kept`.
    """
    admin = make_url(ADMIN_URL)
    if admin.host not in ("127.0.0.1", "localhost"):
        raise SystemExit("Benches talk only to 127.0.0.1.")
    name = f"kaimen_bench_{tag}_kept" if keep else f"kaimen_bench_{tag}_{os.getpid()}"
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        reused = keep and connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not reused:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {name}")
    owner = admin.set(drivername="postgresql+psycopg", database=name)
    app = owner.set(username="kaimen_app_bench", password="app-bench-password")
    found = BenchDatabase(name, owner.render_as_string(hide_password=False), app.render_as_string(hide_password=False),
                          reused=bool(reused))
    os.environ["KAIMEN_DATABASE_URL"] = found.app_url
    os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = found.owner_url
    config.reset_settings()
    db.reset_engine()
    kept = found.reused  # a seeded database survives a failed run; a half-seeded one does not
    try:
        db.migrate()
        yield found
        kept = keep
    finally:
        db.reset_engine()
        if not kept:
            drop_kept(name)


def drop_kept(name: str) -> None:
    """Drop a bench database (a kept one included)."""
    plain = make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def psql_url(url: str) -> str:
    """The same URL as libpq/psql read it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def owner_of(n: int) -> Actor:
    """The owner of the business :func:`new_business` made with ``n`` (in a reused database)."""
    return auth.sign_in(username=f"benchowner{n}", password=PASSWORD, origin=Origin()).actor


def new_business(n: int) -> tuple[Actor, str]:
    """A business with its owner; returns the owner actor and the business's slug."""
    signed_in = tenancy.sign_up(
        business_name=f"Bench Customers {n}", owner_name="Bench Owner",
        email=f"benchowner{n}@example.com", phone="+12125550100", region="US", time_zone="UTC",
        password=PASSWORD, confirm_password=PASSWORD, origin=Origin())
    with db.tenant_session(signed_in.actor) as session:
        slug = tenancy.get_business(session, actor=signed_in.actor).slug
    return signed_in.actor, slug


def seed_customers(owner_url: str, business_id: int, rows: int, *, phone_prefix: str = "+1212") -> float:
    """Insert ``rows`` customers for the business; returns the seconds it took (then ANALYZE)."""
    first = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST) + "]"
    last = "ARRAY[" + ",".join(f"'{n}'" for n in LAST) + "]"
    statement = f"""
        INSERT INTO customers (business_id, name, phone_e164, email, notes, tags, transactional_consent,
                               marketing_consent, search_text, created_at, updated_at)
        SELECT %(b)s, s.name, s.phone, s.email, CASE WHEN i %% 7 = 0 THEN 'prefers mornings' END,
               CASE WHEN i %% 10 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END, true, i %% 3 = 0,
               lower(s.name) || ' ' || s.email || ' ' || substr(s.phone, 2) ||
                   CASE WHEN i %% 10 = 0 THEN ' #vip' ELSE '' END,
               now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval
        FROM generate_series(1, %(n)s) AS i,
             LATERAL (SELECT ({first})[1 + (i * 7) %% {len(FIRST)}] || ' ' || ({last})[1 + (i * 13) %% {len(LAST)}]
                             AS name,
                             %(prefix)s || lpad(i::text, 7, '0') AS phone,
                             'customer' || i || '@example.com' AS email) AS s
    """
    start = time.perf_counter()
    with psycopg.connect(psql_url(owner_url), autocommit=True) as connection:
        # An index is built far faster in one go than row by row: drop the customers
        # indexes that back no constraint, load, rebuild them exactly as they were.
        connection.execute("SET maintenance_work_mem = '512MB'")
        indexes = connection.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = 'customers' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").fetchall()
        for name, _ in indexes:
            connection.execute(f"DROP INDEX {name}")
        connection.execute(statement, {"b": business_id, "n": rows, "prefix": phone_prefix})
        loaded = time.perf_counter()
        for _, definition in indexes:
            connection.execute(definition)
        indexed = time.perf_counter()
        connection.execute("VACUUM ANALYZE customers")
    print(f"  (seed: load {loaded - start:.1f} s, {len(indexes)} indexes {indexed - loaded:.1f} s, "
          f"vacuum analyze {time.perf_counter() - indexed:.1f} s)")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with bench_database("seed") as database:
        actor, _ = new_business(1)
        seconds = seed_customers(database.owner_url, actor.business_id, min(args.rows, 5_000_000))
        print(f"seeded {args.rows:,} customers in {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s, "
              "indexes and ANALYZE included)")


if __name__ == "__main__":
    main()
