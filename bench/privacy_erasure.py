"""Erasing one customer: a database of many messages versus one of few.

Builds two throwaway PostgreSQL databases (KAIMEN_BENCH_POSTGRES_URL, a superuser URL)
holding ``--small`` and ``--large`` messages spread over 100,000 customers of one
business, erases one customer in each, and prints the time of the erasure proper
(prepare, database, providers, certificate) and of the verification scan separately,
with the large/small ratio. In the small database it also erases ``--bulk`` customers
one after another and prints customers per second. Everything runs on 127.0.0.1 and is
dropped afterwards.

Usage: KAIMEN_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
       python bench/privacy_erasure.py [--small 10000] [--large 10000000] [--bulk 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.update(KAIMEN_DATA_DIR=tempfile.mkdtemp(prefix="kaimen-bench-"), KAIMEN_BCRYPT_ROUNDS="4",
                  KAIMEN_COOKIE_KEY="bench-" + "k" * 40)

from sqlalchemy import make_url, text

from kaimen_core import config, db, privacy, tenancy
from kaimen_core.actors import Origin
from kaimen_core.privacy import ProviderErasers

PASSWORD = "bench password 123"
CUSTOMERS = 100_000


def _noop(_ref: str) -> None:
    return None


ERASERS = ProviderErasers(delete_message=_noop, delete_media=_noop, message_service="none (bench)")


def _database(admin_url, name: str):
    engine = db.create_engine_for(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    owner = admin_url.set(database=name).render_as_string(hide_password=False)
    app = admin_url.set(database=name, username="kaimen_app_bench", password="bench").render_as_string(
        hide_password=False)
    os.environ["KAIMEN_DATABASE_URL"], os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = app, owner
    config.reset_settings()
    db.reset_engine()
    db.migrate()
    return owner


def _seed(owner_url: str, messages: int) -> tuple[object, int]:
    signed_in = tenancy.sign_up(
        business_name="Bench Salon", owner_name="Bench Owner", username="bench", email="bench@example.com",
        phone="+12125550100", region="US", time_zone="UTC", password=PASSWORD, confirm_password=PASSWORD,
        origin=Origin())
    actor = signed_in.actor
    owner = db.create_engine_for(owner_url)
    started = time.perf_counter()
    with owner.begin() as connection:
        b = actor.business_id
        connection.execute(text(
            "INSERT INTO customers (business_id, name, phone_e164, email, tags, transactional_consent, "
            "marketing_consent, created_at, updated_at) "
            "SELECT :b, 'Customer ' || i, '+1212' || (2000000 + i)::text, 'c' || i || '@example.com', '[]', "
            "true, false, now(), now() FROM generate_series(1, :n) AS i"), {"b": b, "n": CUSTOMERS})
        first = connection.execute(text("SELECT min(id) FROM customers WHERE business_id = :b"), {"b": b}).scalar()
        connection.execute(text(
            "INSERT INTO messages (business_id, customer_id, direction, kind, body, media, status, created_at, "
            "updated_at) SELECT :b, :first + (i % :c), 'inbound', 'manual', 'Message number ' || i, '[]', "
            "'received', now(), now() FROM generate_series(1, :n) AS i"),
            {"b": b, "first": first, "c": CUSTOMERS, "n": messages})
        connection.execute(text("ANALYZE"))
    print(f"  seeded {CUSTOMERS:,} customers and {messages:,} messages in {time.perf_counter() - started:.1f} s")
    owner.dispose()
    return actor, first


def _request(actor, customer_id: int) -> int:
    with db.system_session() as session:
        phone = session.execute(text("SELECT phone_e164 FROM customers WHERE id = :id"),
                                {"id": customer_id}).scalar_one()
    with db.tenant_session(actor) as session:
        view = privacy.record_request(session, actor=actor, kind="deletion", regime="gdpr", channel="email",
                                      requester_name="Bench Person", phone=phone)
        privacy.verify_identity(session, actor=actor, request_id=view.id, method="bench")
    return view.id


def _erase_one(actor, customer_id: int) -> tuple[float, float]:
    request_id = _request(actor, customer_id)
    started = time.perf_counter()
    result = privacy.run_erasure(actor=actor, request_id=request_id, erasers=ERASERS)
    total = time.perf_counter() - started
    scan = result.certificate["verification"]["seconds"]
    return total - scan, scan


def run(admin_url, messages: int, bulk: int) -> tuple[float, float, float | None]:
    name = f"kaimen_bench_erase_{messages}_{os.getpid()}"
    owner = _database(admin_url, name)
    try:
        actor, first = _seed(owner, messages)
        _erase_one(actor, first + 1)  # warm the caches and the plan
        erase, scan = _erase_one(actor, first + 2)
        rate = None
        if bulk:
            ids = [_request(actor, first + 10 + i) for i in range(bulk)]
            started = time.perf_counter()
            privacy.erase_requests(ids, actor=actor, erasers=ERASERS)
            rate = bulk / (time.perf_counter() - started)
        return erase, scan, rate
    finally:
        db.reset_engine()
        engine = db.create_engine_for(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Erasure cost against database size.")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--bulk", type=int, default=1_000,
                        help="customers erased one after another in the small database")
    args = parser.parse_args()
    admin = os.environ.get("KAIMEN_BENCH_POSTGRES_URL")
    if not admin:
        print("skipped: set KAIMEN_BENCH_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        return
    url = make_url(config.Settings.model_validate({"database_url": admin}).database_url)
    print(f"small database ({args.small:,} messages)", flush=True)
    small_erase, small_scan, rate = run(url, args.small, args.bulk)
    print(f"  erase one customer {small_erase * 1e3:.1f} ms, verification scan {small_scan * 1e3:.1f} ms", flush=True)
    if rate:
        print(f"  bulk erasure: {rate:,.1f} customers/s ({args.bulk:,} customers one after another, each "
              "verified by its own scan)", flush=True)
    print(f"large database ({args.large:,} messages)", flush=True)
    large_erase, large_scan, _ = run(url, args.large, 0)
    print(f"  erase one customer {large_erase * 1e3:.1f} ms, verification scan {large_scan * 1e3:.1f} ms")
    print(f"erase one customer: ratio large/small {large_erase / small_erase:5.2f} (target <= 2)")
    print(f"verification scan:  ratio large/small {large_scan / max(small_scan, 1e-6):5.2f} (reported separately)")


if __name__ == "__main__":
    main()
