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
import time

from sqlalchemy import text
from throwaway import ADMIN_HINT, postgres_database

from kaimen_core import db, privacy, tenancy
from kaimen_core.actors import Origin
from kaimen_core.privacy import ProviderErasers

PASSWORD = "bench password 123"
CUSTOMERS = 100_000


def _noop(_ref: str) -> None:
    return None


ERASERS = ProviderErasers(delete_message=_noop, delete_media=_noop, message_service="none (bench)")


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


def run(messages: int, bulk: int) -> tuple[float, float, float | None] | None:
    """Erase in a fresh database of ``messages`` messages; None without a PostgreSQL server."""
    with postgres_database(f"erase_{messages}") as owner:
        if owner is None:
            return None
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


def main() -> None:
    parser = argparse.ArgumentParser(description="Erasure cost against database size.")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--bulk", type=int, default=1_000,
                        help="customers erased one after another in the small database")
    args = parser.parse_args()
    print(f"small database ({args.small:,} messages)", flush=True)
    small = run(args.small, args.bulk)
    if small is None:
        print(f"skipped: {ADMIN_HINT}")
        return
    small_erase, small_scan, rate = small
    print(f"  erase one customer {small_erase * 1e3:.1f} ms, verification scan {small_scan * 1e3:.1f} ms", flush=True)
    if rate:
        print(f"  bulk erasure: {rate:,.1f} customers/s ({args.bulk:,} customers one after another, each "
              "verified by its own scan)", flush=True)
    print(f"large database ({args.large:,} messages)", flush=True)
    large_erase, large_scan, _ = run(args.large, 0)
    print(f"  erase one customer {large_erase * 1e3:.1f} ms, verification scan {large_scan * 1e3:.1f} ms")
    print(f"erase one customer: ratio large/small {large_erase / small_erase:5.2f} (target <= 2)")
    print(f"verification scan:  ratio large/small {large_scan / max(small_scan, 1e-6):5.2f} (reported separately)")


if __name__ == "__main__":
    main()
