"""Shared set-up for the bookings benchmarks: a throwaway SQLite file or PostgreSQL database,
and a salon with staff, a service and opening hours. Everything runs on 127.0.0.1."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
TMP = Path(tempfile.mkdtemp(prefix="kaimen-bench-bookings-"))
os.environ.update(KAIMEN_DATA_DIR=str(TMP), KAIMEN_BCRYPT_ROUNDS="4", KAIMEN_COOKIE_KEY="bench-" + "k" * 40)
for _name in ("KAIMEN_DATABASE_URL", "KAIMEN_MIGRATE_DATABASE_URL", "CLOUDINARY_URL"):
    os.environ.pop(_name, None)

from sqlalchemy import make_url, text  # noqa: E402

from kaimen_core import bookings, config, db, tenancy  # noqa: E402
from kaimen_core.actors import Actor, Origin  # noqa: E402

PASSWORD = "bench password 123"
ZONE = "America/New_York"


def _use(app_url: str, owner_url: str) -> None:
    os.environ["KAIMEN_DATABASE_URL"] = app_url
    os.environ["KAIMEN_MIGRATE_DATABASE_URL"] = owner_url
    config.reset_settings()
    db.reset_engine()
    db.migrate()


def databases(which: list[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(kind, owner_url)`` for SQLite and, when KAIMEN_BENCH_POSTGRES_URL is set, PostgreSQL."""
    if "sqlite" in which:
        url = f"sqlite:///{TMP / 'bench.db'}"
        _use(url, url)
        yield "sqlite", url
    if "postgres" not in which:
        return
    admin = os.environ.get("KAIMEN_BENCH_POSTGRES_URL")
    if not admin:
        print("postgres   skipped: set KAIMEN_BENCH_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
        return
    url = make_url(config.Settings.model_validate({"database_url": admin}).database_url)
    name = f"kaimen_bench_bookings_{os.getpid()}"
    engine = db.create_engine_for(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        owner_url = url.set(database=name).render_as_string(hide_password=False)
        app_url = url.set(database=name, username="kaimen_app_bench", password="bench").render_as_string(
            hide_password=False)
        _use(app_url, owner_url)
        yield "postgres", owner_url
    finally:
        db.reset_engine()
        with engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


def make_salon(n: int, staff: int, *, duration: int = 30) -> tuple[Actor, int, list[int]]:
    """A business open 9:00-17:00 every day with ``staff`` staff who all perform one service."""
    signed_in = tenancy.sign_up(
        business_name=f"Bench salon {n}", owner_name="Bench Owner", username=f"benchowner{n}",
        email=f"benchowner{n}@example.com", phone="+12125550100", region="US", time_zone=ZONE, password=PASSWORD,
        confirm_password=PASSWORD, origin=Origin(ip_address="127.0.0.1", user_agent="bench"))
    owner = signed_in.actor
    with db.tenant_session(owner) as session:
        service_id = bookings.create_service(session, actor=owner, name="Cut", duration_minutes=duration)
        staff_ids = [bookings.create_staff(session, actor=owner, name=f"Stylist {i}", service_ids=[service_id])
                     for i in range(staff)]
        bookings.set_business_hours(session, actor=owner, spans=[bookings.Span(d, 540, 1020) for d in range(7)])
    return owner, service_id, staff_ids
