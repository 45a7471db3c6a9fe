"""50 people try to book the same staff member into overlapping times at once: exactly one
succeeds, the other 49 get a Conflict naming the winner's time; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from kaimen_core import bookings, db
from kaimen_core.exceptions import Conflict
from kaimen_core.models import Booking
from tests.core.bookings_helpers import future_day, make_salon
from tests.factories import count

ATTEMPTS = 50


def test_fifty_concurrent_overlapping_attempts_one_succeeds(database):
    salon = make_salon()
    monday = future_day()
    starts = [salon.at(monday, 10, minute) for minute in range(ATTEMPTS)]  # 10:00 ... 10:49, all overlapping
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(start):
        barrier.wait()
        try:
            with db.tenant_session(salon.owner) as session:
                booking = bookings.create_booking(session, actor=salon.owner, staff_id=salon.sam_id,
                                                  service_id=salon.service_id, start_at=start)
            return booking.start_at
        except Conflict as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        results = list(pool.map(attempt, starts))
    won = [r for r in results if not isinstance(r, str)]
    lost = [r for r in results if isinstance(r, str)]
    assert len(won) == 1, results
    winner = won[0].astimezone(salon.zone)
    expected = f"Sam is already booked {winner:%H:%M}–{winner.hour + 1:02d}:{winner:%M} on "
    assert len(lost) == ATTEMPTS - 1 and all(message.startswith(expected) for message in lost), lost[:3]
    assert count(Booking, Booking.staff_id == salon.sam_id, Booking.status == "booked") == 1


def test_when_two_writers_both_pass_the_check_postgresql_s_constraint_decides(database, monkeypatch):
    """Skip kaimen_core's own look-up once, as a racing writer would: the loser still gets a clear message."""
    if database.kind != "postgres":
        pytest.skip("SQLite has no exclusion constraint; BEGIN IMMEDIATE lets no second writer into the check")
    from kaimen_core.bookings import _lifecycle

    salon = make_salon()
    monday = future_day()
    salon.book(monday, 10)
    original = _lifecycle._clash_message
    calls = []

    def blind_once(*args, **kwargs):
        calls.append(args)
        return None if len(calls) == 1 else original(*args, **kwargs)

    monkeypatch.setattr(_lifecycle, "_clash_message", blind_once)
    try:
        salon.book(monday, 10, 30)
    except Conflict as exc:
        assert str(exc).startswith("Sam is already booked 10:00–11:00 on ")
    else:
        raise AssertionError("the exclusion constraint let an overlapping booking in")
    assert len(calls) == 2  # the blind check, then the look-up for the message after 23P01
    assert count(Booking, Booking.staff_id == salon.sam_id) == 1
