"""Bookings: free slots (hours, staff hours, time off, buffers, DST), the lifecycle and its events,
no double booking with a clear message, roles, and the Home page figures. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from kaimen_core import bookings, db
from kaimen_core.bookings import Span
from kaimen_core.exceptions import Conflict, PermissionDenied, ValidationError
from kaimen_core.models import Booking, BookingEvent
from tests.core.bookings_helpers import future_day, make_salon, past_booking, transition_day
from tests.factories import make_staff, rows

HOURLY = {"step_minutes": 60, "now": datetime(2000, 1, 1, tzinfo=UTC)}


# --- free slots --------------------------------------------------------------------------


def test_slots_follow_business_hours_staff_hours_and_time_off(database):
    salon = make_salon()
    monday = future_day()
    assert salon.local(salon.slots(monday, step_minutes=60)) == [f"{h:02d}:00" for h in range(9, 17)]
    with db.tenant_session(salon.owner) as session:
        bookings.set_staff_hours(session, actor=salon.owner, staff_id=salon.sam_id,
                                 spans=[Span(0, 8 * 60, 13 * 60)])  # Mondays 8-13 only
        bookings.add_time_off(session, actor=salon.owner, staff_id=salon.sam_id, starts_at=salon.at(monday, 10),
                              ends_at=salon.at(monday, 11, 30), reason="Dentist")
    # 8:00 is before opening; 10:00 and 11:00 touch the time off; 12:00 ends at 13:00
    assert salon.local(salon.slots(monday, step_minutes=60)) == ["09:00", "12:00"]
    assert salon.slots(monday + timedelta(days=1)) == []  # no hours of Sam's on Tuesday


def test_back_to_back_bookings_are_allowed_and_overlaps_refused_with_a_clear_message(database):
    salon = make_salon()
    monday = future_day()
    salon.book(monday, 10)
    salon.book(monday, 11)  # starts as the first ends
    salon.book(monday, 9)
    with pytest.raises(Conflict, match=r"^Sam is already booked 10:00–11:00 on \w{3} \d+ \w{3}\."):
        salon.book(monday, 10, 30)
    assert salon.local(salon.slots(monday, step_minutes=60)) == ["12:00", "13:00", "14:00", "15:00", "16:00"]


def test_a_buffer_keeps_the_staff_member_busy_after_the_appointment(database):
    salon = make_salon(buffer=15)
    monday = future_day()
    first = salon.book(monday, 10)
    assert first.occupied_until - first.end_at == timedelta(minutes=15)
    with pytest.raises(Conflict, match=r"Sam is already booked 10:00–11:00 on .*with 15 minutes' buffer after it"):
        salon.book(monday, 11)
    with pytest.raises(Conflict):  # its own buffer would run into the 10:00 booking
        salon.book(monday, 9, 0)
    salon.book(monday, 11, 15)
    starts = salon.local(salon.slots(monday, step_minutes=15))
    assert "11:00" not in starts and "12:15" not in starts and "12:30" in starts
    assert "16:00" in starts  # the buffer may run past closing; the appointment may not


def test_a_cancelled_booking_frees_its_slot(database):
    salon = make_salon()
    monday = future_day()
    booking = salon.book(monday, 10)
    assert "10:00" not in salon.local(salon.slots(monday, step_minutes=60))
    with db.tenant_session(salon.owner) as session:
        bookings.cancel_booking(session, actor=salon.owner, booking_id=booking.id)
    assert "10:00" in salon.local(salon.slots(monday, step_minutes=60))
    salon.book(monday, 10)


@pytest.mark.parametrize(
    ("zone", "month", "hours"),
    [("America/New_York", 3, 5), ("America/New_York", 11, 7), ("Europe/London", 3, 5), ("Europe/London", 10, 7)],
    ids=["new-york-spring-forward", "new-york-fall-back", "london-spring-forward", "london-fall-back"],
)
def test_slots_across_daylight_saving_changes(database, zone, month, hours):
    """Open 00:00–06:00 local on the day the clocks change: 5 real hours in spring, 7 in autumn."""
    salon = make_salon(zone, opens=0, closes=6 * 60)
    day = transition_day(zone, month)
    slots = salon.slots(day, **HOURLY)
    assert len(slots) == hours
    assert all(s.end_at - s.start_at == timedelta(hours=1) for s in slots)
    assert [b.start_at - a.start_at for a, b in itertools.pairwise(slots)] == [timedelta(hours=1)] * (hours - 1)
    assert slots[0].start_at.astimezone(salon.zone).hour == 0
    assert slots[-1].end_at.astimezone(salon.zone).hour == 6
    labels = salon.local(slots)
    if month == 3:  # the skipped hour has no slot
        skipped = "02:00" if zone == "America/New_York" else "01:00"
        assert skipped not in labels
    else:  # the repeated hour has two, an hour apart in real time
        repeated = "01:00"
        assert labels.count(repeated) == 2

    # A 9-to-5 day stays 9 to 5 on the clock, with the UTC offset of that day.
    day_salon = make_salon(zone)
    slots = day_salon.slots(day, **HOURLY)
    assert day_salon.local(slots) == [f"{h:02d}:00" for h in range(9, 17)]
    offset = datetime.combine(day, datetime.min.time()).replace(hour=12, tzinfo=day_salon.zone).utcoffset()
    assert slots[0].start_at == datetime.combine(day, datetime.min.time()).replace(hour=9, tzinfo=UTC) - offset


def test_a_booking_across_the_spring_forward_gap_lasts_its_real_length(database):
    zone = "America/New_York"
    salon = make_salon(zone, opens=0, closes=6 * 60)
    day = transition_day(zone, 3)
    booking = salon.book(day, 1, 30)  # 01:30 EST + 60 minutes = 03:30 EDT
    assert booking.end_at - booking.start_at == timedelta(hours=1)
    assert booking.end_at.astimezone(salon.zone).strftime("%H:%M") == "03:30"


# --- lifecycle ---------------------------------------------------------------------------


def test_lifecycle_records_who_changed_what(database):
    salon = make_salon()
    staff, _ = make_staff(salon.tenant)
    monday = future_day()
    booking = salon.book(monday, 10, actor=staff)
    with db.tenant_session(salon.owner) as session:
        moved = bookings.reschedule_booking(session, actor=salon.owner, booking_id=booking.id,
                                            start_at=salon.at(monday, 14))
        assert moved.start_at == salon.at(monday, 14) and moved.end_at == salon.at(monday, 15)
    assert "10:00" in salon.local(salon.slots(monday, step_minutes=60))
    with db.tenant_session(staff) as session:
        cancelled = bookings.cancel_booking(session, actor=staff, booking_id=booking.id)
        assert cancelled.status == "cancelled"
        with pytest.raises(ValidationError, match="already cancelled"):
            bookings.cancel_booking(session, actor=staff, booking_id=booking.id)
    events = rows(BookingEvent, BookingEvent.booking_id == booking.id)
    assert [(e.kind, e.status, e.actor_label) for e in sorted(events, key=lambda e: e.id)] == [
        ("created", "booked", staff.label), ("moved", "booked", salon.owner.label),
        ("cancelled", "cancelled", staff.label)]
    moved_event = next(e for e in events if e.kind == "moved")
    assert moved_event.previous_start_at == salon.at(monday, 10) and moved_event.start_at == salon.at(monday, 14)


def test_complete_and_no_show_only_once_the_appointment_has_started(database):
    salon = make_salon()
    upcoming = salon.book(future_day(), 10)
    done, missed = past_booking(salon, 3), past_booking(salon, 6)
    with db.tenant_session(salon.owner) as session:
        with pytest.raises(ValidationError, match="once it has started"):
            bookings.complete_booking(session, actor=salon.owner, booking_id=upcoming.id)
        assert bookings.complete_booking(session, actor=salon.owner, booking_id=done).status == "completed"
        assert bookings.mark_no_show(session, actor=salon.owner, booking_id=missed).status == "no_show"
        with pytest.raises(ValidationError, match="Only booked appointments can be moved"):
            bookings.reschedule_booking(session, actor=salon.owner, booking_id=done,
                                        start_at=salon.at(future_day(), 12))


def test_bookings_outside_hours_in_the_past_or_for_the_wrong_service_are_refused(database):
    salon = make_salon()
    monday = future_day()
    with pytest.raises(ValidationError, match=r"Sam does not work 16:30–17:30 on"):
        salon.book(monday, 16, 30)
    with pytest.raises(ValidationError, match="already passed"):
        with db.tenant_session(salon.owner) as session:
            bookings.create_booking(session, actor=salon.owner, staff_id=salon.sam_id, service_id=salon.service_id,
                                    start_at=datetime.now(UTC) - timedelta(days=1))
    with db.tenant_session(salon.owner) as session:
        other = bookings.create_staff(session, actor=salon.owner, name="Alex")
    with pytest.raises(ValidationError, match="Alex does not perform Cut"):
        salon.book(monday, 10, staff_id=other)
    with pytest.raises(ValidationError, match="Times must carry a time zone"):
        with db.tenant_session(salon.owner) as session:
            bookings.create_booking(session, actor=salon.owner, staff_id=salon.sam_id, service_id=salon.service_id,
                                    start_at=datetime(2030, 1, 7, 10))
    assert rows(Booking, Booking.business_id == salon.owner.business_id) == []


def test_list_bookings_filters_by_staff_and_status(database):
    salon = make_salon()
    monday = future_day()
    with db.tenant_session(salon.owner) as session:
        alex = bookings.create_staff(session, actor=salon.owner, name="Alex", service_ids=[salon.service_id])
    salon.book(monday, 10)
    salon.book(monday, 10, staff_id=alex)
    cancelled = salon.book(monday, 12)
    with db.tenant_session(salon.owner) as session:
        bookings.cancel_booking(session, actor=salon.owner, booking_id=cancelled.id)
        span = {"start_at": salon.at(monday, 0), "end_at": salon.at(monday + timedelta(days=1), 0)}
        everything = bookings.list_bookings(session, actor=salon.owner, **span)
        alex_only = bookings.list_bookings(session, actor=salon.owner, staff_id=alex, **span)
        booked = bookings.list_bookings(session, actor=salon.owner, status="booked", **span)
    assert [(b.staff_name, b.service_name, b.status) for b in everything] == [
        ("Sam", "Cut", "booked"), ("Alex", "Cut", "booked"), ("Sam", "Cut", "cancelled")]
    assert [b.staff_name for b in alex_only] == ["Alex"]
    assert len(booked) == 2


# --- roles -------------------------------------------------------------------------------


def test_staff_cannot_edit_services_hours_or_staff(database):
    salon = make_salon()
    staff, _ = make_staff(salon.tenant)
    with db.tenant_session(staff) as session:
        assert [s.name for s in bookings.list_services(session, actor=staff)] == ["Cut"]
        attempts = [
            lambda: bookings.create_service(session, actor=staff, name="Free cut", duration_minutes=30),
            lambda: bookings.update_service(session, actor=staff, service_id=salon.service_id, name="Cut",
                                            duration_minutes=30, price_cents=0, currency="USD", buffer_minutes=0,
                                            active=True),
            lambda: bookings.set_business_hours(session, actor=staff, spans=[]),
            lambda: bookings.set_staff_hours(session, actor=staff, staff_id=salon.sam_id, spans=[]),
            lambda: bookings.add_time_off(session, actor=staff, staff_id=salon.sam_id,
                                          starts_at=datetime.now(UTC), ends_at=datetime.now(UTC) + timedelta(hours=1)),
            lambda: bookings.create_staff(session, actor=staff, name="Mallory"),
            lambda: bookings.update_staff(session, actor=staff, staff_id=salon.sam_id, name="Mallory", bio=None,
                                          active=True, service_ids=[]),
            lambda: bookings.set_staff_photo(session, actor=staff, staff_id=salon.sam_id, data=b"x"),
        ]
        for attempt in attempts:
            with pytest.raises(PermissionDenied, match="Only owner users can do this"):
                attempt()
    with db.tenant_session(salon.owner) as session:
        assert bookings.business_hours(session, actor=salon.owner)[0] == Span(0, 540, 1020)
        assert [s.name for s in bookings.list_staff(session, actor=salon.owner)] == ["Sam"]


def test_hours_are_checked(database):
    salon = make_salon()
    with db.tenant_session(salon.owner) as session:
        with pytest.raises(ValidationError, match="Monday: hours overlap"):
            bookings.set_business_hours(session, actor=salon.owner, spans=[Span(0, 540, 720), Span(0, 700, 900)])
        with pytest.raises(ValidationError, match="closing time must be after opening time"):
            bookings.set_business_hours(session, actor=salon.owner, spans=[Span(1, 720, 540)])
        with pytest.raises(ValidationError, match="Duration must be between"):
            bookings.create_service(session, actor=salon.owner, name="Nothing", duration_minutes=0)


# --- the Home page's figures -------------------------------------------------------------


def test_dashboard_figures(database):
    salon = make_salon(opens=0, closes=24 * 60)
    past_booking(salon, 3)
    missed = past_booking(salon, 6)
    with db.tenant_session(salon.owner) as session:
        bookings.mark_no_show(session, actor=salon.owner, booking_id=missed)
        figures = bookings.dashboard_figures(session, actor=salon.owner, weeks=4)
    assert len(figures.weeks) == 4 and figures.weeks[-1].weekday() == 0
    assert sum(figures.bookings_per_week) == 2
    assert 1.0 in figures.no_show_rate  # the one appointment that happened was a no-show
    assert 0 < figures.utilisation["Sam"] <= 1


def test_no_show_rate_counts_only_appointments_that_happened(database):
    salon = make_salon(opens=0, closes=24 * 60)
    done, missed = past_booking(salon, 30), past_booking(salon, 26)
    with db.tenant_session(salon.owner) as session:
        bookings.complete_booking(session, actor=salon.owner, booking_id=done)
        bookings.mark_no_show(session, actor=salon.owner, booking_id=missed)
        figures = bookings.dashboard_figures(session, actor=salon.owner, weeks=2)
    rates = [r for r in figures.no_show_rate if r is not None]
    assert rates in ([0.5], [1.0, 0.0], [0.0, 1.0])


