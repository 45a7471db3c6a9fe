"""Shared set-up for the bookings benchmarks: a throwaway SQLite file or PostgreSQL database,
and a salon with staff, a service and opening hours. Everything runs on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

from throwaway import ADMIN_HINT, postgres_database, sqlite_database

from kaimen_core import bookings, db, tenancy
from kaimen_core.actors import Actor, Origin

PASSWORD = "bench password 123"
ZONE = "America/New_York"


def databases(which: list[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(kind, owner_url)`` for SQLite and, when KAIMEN_BENCH_POSTGRES_URL is set, PostgreSQL."""
    if "sqlite" in which:
        yield "sqlite", sqlite_database()
    if "postgres" not in which:
        return
    with postgres_database("bookings") as owner_url:
        if owner_url is None:
            print(f"postgres   skipped: {ADMIN_HINT}")
            return
        yield "postgres", owner_url


def make_salon(n: int, staff: int, *, duration: int = 30) -> tuple[Actor, int, list[int]]:
    """A business open 9:00-17:00 every day with ``staff`` staff who all perform one service."""
    signed_in = tenancy.sign_up(
        business_name=f"Bench salon {n}", owner_name="Bench Owner",
        email=f"benchowner{n}@example.com", phone="+12125550100", region="US", time_zone=ZONE, password=PASSWORD,
        confirm_password=PASSWORD, origin=Origin(ip_address="127.0.0.1", user_agent="bench"))
    owner = signed_in.actor
    with db.tenant_session(owner) as session:
        service_id = bookings.create_service(session, actor=owner, name="Cut", duration_minutes=duration)
        staff_ids = [bookings.create_staff(session, actor=owner, name=f"Stylist {i}", service_ids=[service_id])
                     for i in range(staff)]
        bookings.set_business_hours(session, actor=owner, spans=[bookings.Span(d, 540, 1020) for d in range(7)])
    return owner, service_id, staff_ids
