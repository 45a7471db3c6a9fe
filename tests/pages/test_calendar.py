"""The calendar, staff and services pages, and the Home charts, through AppTest on both databases."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from PIL import Image

from kaimen_core import bookings, db, media
from kaimen_core.media import clean_photo
from kaimen_core.models import Booking, BusinessHours, StaffMember
from tests.core.bookings_helpers import make_salon
from tests.factories import count, make_staff, rows


@pytest.fixture
def salon(database):
    return make_salon(opens=0, closes=24 * 60)


def _open(signed_in, username: str, page: str):
    at = signed_in(username)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_owner_books_a_free_slot_in_a_few_clicks(signed_in, salon, press):
    at = _open(signed_in, salon.tenant.username, "pages/calendar.py")
    assert [t.label for t in at.tabs] == ["Grid", "List", "Book"]
    slot = next(s for s in at.selectbox if s.label == "Free times")
    first = slot.options[0]
    assert first.endswith(" · Sam")
    press(at, "Book")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(s.value.startswith("Booked Cut with Sam on ") for s in at.success)
    [booking] = rows(Booking, Booking.business_id == salon.owner.business_id)
    assert booking.status == "booked" and booking.created_by_user_id == salon.owner.user_id
    assert first not in next(s for s in at.selectbox if s.label == "Free times").options  # the slot is taken now


def test_the_day_grid_and_list_show_bookings_and_a_booking_can_be_cancelled(signed_in, salon, press):
    with db.tenant_session(salon.owner) as session:
        soon = bookings.free_slots(session, actor=salon.owner, service_id=salon.service_id,
                                   start_date=_today(salon), end_date=_today(salon) + timedelta(days=1))[4]
    booked = salon.book(soon.start_at.astimezone(salon.zone).date(), soon.start_at.astimezone(salon.zone).hour,
                        soon.start_at.astimezone(salon.zone).minute)
    at = _open(signed_in, salon.tenant.username, "pages/calendar.py")
    listed = at.dataframe[1].value
    assert list(listed["Staff"]) == ["Sam"] and list(listed["Status"]) == ["booked"]
    at.selectbox(key="list_booking").select_index(1).run()
    press(at, "Cancel booking")
    assert not at.exception
    assert any(s.value == "Booking cancelled; the time is free again." for s in at.success)
    assert rows(Booking, Booking.id == booked.id)[0].status == "cancelled"


def test_a_double_booking_shows_a_clear_message_not_a_stack_trace(signed_in, salon, press):
    at = _open(signed_in, salon.tenant.username, "pages/calendar.py")
    start = next(s for s in at.selectbox if s.label == "Free times").value.split("|")[0]
    local = datetime.fromisoformat(start).astimezone(salon.zone)
    salon.book(local.date(), local.hour, local.minute)  # someone else takes it first
    press(at, "Book")
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Sam is already booked {local:%H:%M}–{local + timedelta(hours=1):%H:%M} on {local:%a} {local.day} "
        f"{local:%b}. Choose another time or staff member."]


def test_staff_use_the_calendar_but_not_staff_or_services(signed_in, salon, navigation):
    staff, _ = make_staff(salon.tenant)
    at = signed_in(staff.username)
    assert "Calendar" in navigation[-1].titles
    assert "Staff" not in navigation[-1].titles and "Services and hours" not in navigation[-1].titles
    with pytest.raises(Exception, match="services"):
        at.switch_page("pages/services.py")


def test_owner_adds_a_service_and_sets_opening_hours(signed_in, salon, press):
    at = _open(signed_in, salon.tenant.username, "pages/services.py")
    at.text_input(key="new_service_name").input("Colour")
    at.number_input(key="new_service_duration").set_value(90)
    at.number_input(key="new_service_buffer").set_value(15)
    press(at, "Add service")
    assert not at.exception and not at.error
    assert [s.name for s in _services(salon)] == ["Colour", "Cut"]
    at.checkbox(key="hours_open_6").uncheck()  # closed on Sundays
    press(at, "Save opening hours")
    assert any(s.value == "Opening hours saved." for s in at.success)
    assert sorted(h.weekday for h in rows(BusinessHours, BusinessHours.business_id == salon.owner.business_id)) == [
        0, 1, 2, 3, 4, 5]


def test_owner_uploads_a_staff_photo_and_a_forged_one_is_refused(signed_in, salon, press):
    at = _open(signed_in, salon.tenant.username, "pages/staff.py")
    uploader = at.get("file_uploader")[0]
    uploader.upload("evil.png", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                    "image/png").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "That file is not an image Kaimen can read. Choose a JPEG, PNG or WebP photo."]
    assert not [b for b in at.button if b.label == "Use this photo"]

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    at.get("file_uploader")[0].set_value(("sam.png", out.getvalue(), "image/png")).run()
    assert not at.exception and not at.error
    assert [i for i in at.get("image")], "a preview of the cleaned photo"
    press(at, "Use this photo")
    assert any(s.value == "Photo saved for Sam." for s in at.success)
    assert rows(StaffMember, StaffMember.id == salon.sam_id)[0].photo_ref.startswith("local:")
    press(at, "Remove photo")
    assert rows(StaffMember, StaffMember.id == salon.sam_id)[0].photo_ref is None


def test_a_photo_is_decoded_once_for_its_upload_not_on_every_rerun(signed_in, salon, press, monkeypatch):
    decoded = []

    def counting(data):
        decoded.append(len(data))
        return clean_photo(data)

    monkeypatch.setattr(media, "clean_photo", counting)  # the page's and kaimen_core's one way to check a photo
    at = _open(signed_in, salon.tenant.username, "pages/staff.py")
    uploader = at.file_uploader(key=f"staff_upload_{salon.sam_id}")
    assert uploader.proto.max_upload_size_mb == media.MAX_BYTES // (1024 * 1024)  # the browser refuses more
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), "red").save(out, "PNG")
    uploader.upload("sam.png", out.getvalue(), "image/png").run()
    assert [i for i in at.get("image")], "a preview of the cleaned photo"
    at.text_input(key=f"staff_name_{salon.sam_id}").input("Sam B").run()  # any other change reruns the page
    at.run()
    assert len(decoded) == 1
    press(at, "Use this photo")
    assert any(s.value == "Photo saved for Sam." for s in at.success)
    assert len(decoded) == 1, "the checked photo is stored, not decoded again"
    stored = rows(StaffMember, StaffMember.id == salon.sam_id)[0].photo_ref
    with db.tenant_session(salon.owner) as session:
        photo = bookings.staff_photo(session, actor=salon.owner, staff_id=salon.sam_id)
    assert stored and Image.open(io.BytesIO(photo)).size == (1200, 900)

    at.file_uploader(key=f"staff_upload_{salon.sam_id}").set_value(("evil.png", b"<svg/>", "image/png")).run()
    at.run()
    assert [e.value for e in at.error] == [
        "That file is not an image Kaimen can read. Choose a JPEG, PNG or WebP photo."]  # kept for its reruns
    assert len(decoded) == 2


def test_a_cleaned_photo_comes_only_from_the_check():
    with pytest.raises(TypeError):
        media.CleanImage(b"<svg/>", "x.png", "image/png", 1, 1)  # so storing one proves it was checked


def test_owner_adds_a_staff_member_with_services(signed_in, salon, press):
    at = _open(signed_in, salon.tenant.username, "pages/staff.py")
    at.text_input(key="new_staff_name").input("Alex")
    at.multiselect(key="new_staff_services").select(at.multiselect(key="new_staff_services").options[0])
    press(at, "Add staff member")
    assert not at.exception and not at.error
    assert count(StaffMember, StaffMember.business_id == salon.owner.business_id) == 2


def test_home_shows_the_booking_charts(signed_in, salon):
    at = signed_in(salon.tenant.username)
    assert not at.exception
    assert [s.value for s in at.subheader][:1] == ["Bookings"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3
    specs = [chart.proto.spec for chart in charts]
    assert '"Bookings"' in specs[0] and '"No-show rate"' in specs[1] and '"Booked %"' in specs[2]


def _today(salon):
    from kaimen_core.models import utcnow

    return utcnow().astimezone(salon.zone).date()


def _services(salon):
    with db.tenant_session(salon.owner) as session:
        return bookings.list_services(session, actor=salon.owner)


