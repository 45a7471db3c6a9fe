"""Erasing one customer: a database of many messages versus one of few; bulk erasure.

Builds two throwaway PostgreSQL databases (KAIMEN_BENCH_POSTGRES_URL, a superuser URL)
holding ``--small`` and ``--large`` messages spread over 100,000 customers of one
business (the first 20,000 messages carry a provider id), erases one customer in each,
and prints the time of the erasure proper (prepare, database, providers, certificate)
and of the verification scan separately, with the large/small ratio.

In the small database it then erases ``--bulk`` customers as an operator's bulk run
does (``privacy.erase_requests`` as the command line's operator) and prints customers
per second, the seconds spent in each step, and a check that the erased people have no
trace left anywhere (one more verification pass over the business for all of them).
Everything runs on 127.0.0.1 and is dropped afterwards.

Usage: KAIMEN_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
       python bench/privacy_erasure.py [--small 10000] [--large 10000000] [--bulk 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import inspect, text
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
        business_name="Bench Salon", owner_name="Bench Owner", email="bench@example.com",
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
            "updated_at, provider_sid) SELECT :b, :first + (i % :c), 'inbound', 'manual', 'Message number ' || i, "
            "'[]', 'received', now(), now(), CASE WHEN i <= 20000 THEN 'SMbench' || i END "
            "FROM generate_series(1, :n) AS i"),
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


def _requests(actor, first_customer: int, count: int) -> list[int]:
    """``count`` verified deletion requests: one through the app, the rest copied from it in SQL."""
    template = _request(actor, first_customer)
    with db.system_session() as session:
        columns = [c for c in inspect(session.connection()).get_columns("privacy_requests")
                   if c["name"] not in ("id", "customer_id", "subject_ref")]
        names = ", ".join(c["name"] for c in columns)
        copied = ", ".join(f"r.{c['name']}" for c in columns)
        session.execute(text(
            f"INSERT INTO privacy_requests ({names}, customer_id, subject_ref) "
            f"SELECT {copied}, c.id, 'customer #' || c.id FROM privacy_requests r "
            "JOIN customers c ON c.business_id = r.business_id AND c.id > :first AND c.id < :first + :n "
            "WHERE r.id = :template ORDER BY c.id"), {"first": first_customer, "n": count, "template": template})
        ids = session.execute(text("SELECT id FROM privacy_requests WHERE customer_id >= :first "
                                   "AND customer_id < :first + :n ORDER BY customer_id"),
                              {"first": first_customer, "n": count}).scalars().all()
    return list(ids)


def _needles(customer_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    with db.system_session() as session:
        found = session.execute(text("SELECT id, name, phone_e164, email FROM customers WHERE id = ANY(:ids)"),
                                {"ids": customer_ids}).all()
    return {row.id: privacy.needles_for(name=row.name, phone_e164=row.phone_e164, email=row.email, region="US")
            for row in found}


def _bulk(actor, first_customer: int, count: int) -> None:
    ids = _requests(actor, first_customer, count)
    with db.system_session() as session:
        customers = session.execute(text("SELECT customer_id FROM privacy_requests WHERE id = ANY(:ids)"),
                                    {"ids": ids}).scalars().all()
        business = session.execute(text("SELECT business_id FROM privacy_requests WHERE id = :id"),
                                   {"id": ids[0]}).scalar_one()
    people = _needles(list(customers))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    results = privacy.erase_requests(ids, actor=privacy.COMMAND_LINE_OPERATOR, erasers=ERASERS, timings=timings)
    elapsed = time.perf_counter() - started
    completed = sum(r.status == "completed" for r in results)
    print(f"  bulk erasure: {count / elapsed:,.1f} customers/s ({count:,} customers in {elapsed:.1f} s, "
          f"{completed:,} completed)", flush=True)
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())
    verification = timings.get("verification", 0.0)
    providers = timings.get("providers", 0.0)
    print(f"    verification {verification:.1f} s, providers {providers:.1f} s, database (every other step and "
          f"the checks) {elapsed - verification - providers:.1f} s; by step: {steps}", flush=True)
    checked = time.perf_counter()
    with db.system_session() as session:
        left = privacy.scan_many(session, business_id=business, people=people)
    traces = sum(len(found) for found in left.values())
    print(f"    traces left of the {len(people):,} erased people in any table: {traces} (one more pass, "
          f"{time.perf_counter() - checked:.1f} s)", flush=True)


def _erase_one(actor, customer_id: int) -> tuple[float, float]:
    request_id = _request(actor, customer_id)
    started = time.perf_counter()
    result = privacy.run_erasure(actor=actor, request_id=request_id, erasers=ERASERS)
    total = time.perf_counter() - started
    scan = result.certificate["verification"]["seconds"]
    return total - scan, scan


def run(messages: int, bulk: int) -> tuple[float, float] | None:
    """Erase in a fresh database of ``messages`` messages; None without a PostgreSQL server."""
    with postgres_database(f"erase_{messages}") as owner:
        if owner is None:
            return None
        actor, first = _seed(owner, messages)
        _erase_one(actor, first + 1)  # warm the caches and the plan
        samples = [_erase_one(actor, first + i) for i in (2, 3, 4)]
        erase, scan = (statistics.median(sample[k] for sample in samples) for k in (0, 1))
        print(f"  erase one customer {erase * 1e3:.1f} ms, verification scan {scan * 1e3:.1f} ms (median of 3)",
              flush=True)
        if bulk:
            _bulk(actor, first + 10, bulk)
        return erase, scan


def main() -> None:
    parser = argparse.ArgumentParser(description="Erasure cost against database size.")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--bulk", type=int, default=10_000,
                        help="customers erased by one bulk run in the small database (at most 99,000)")
    args = parser.parse_args()
    print(f"small database ({args.small:,} messages)", flush=True)
    small = run(args.small, args.bulk)
    if small is None:
        print(f"skipped: {ADMIN_HINT}")
        return
    small_erase, small_scan = small
    print(f"large database ({args.large:,} messages)", flush=True)
    large_erase, large_scan = run(args.large, 0)
    print(f"erase one customer: ratio large/small {large_erase / small_erase:5.2f} (target <= 2)")
    print(f"verification scan:  ratio large/small {large_scan / max(small_scan, 1e-6):5.2f} (reported separately)")


if __name__ == "__main__":
    main()
