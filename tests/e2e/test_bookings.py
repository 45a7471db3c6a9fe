"""An owner books a free slot from the calendar, in Chromium, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.e2e.journeys import idle, signed_in_page

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright for Python")
expect = sync_api.expect

pytestmark = pytest.mark.browser



def next_weekday(start: date) -> date:
    """A Monday-to-Saturday (the demo's opening days) at least two days ahead."""
    day = start + timedelta(days=2)
    return day + timedelta(days=1) if day.weekday() == 6 else day


def test_owner_books_a_free_slot(server, new_context):
    page = signed_in_page(server, new_context)

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Calendar").click()
    idle(page)
    expect(page.get_by_role("heading", name="Calendar", exact=True)).to_be_visible()
    page.get_by_role("tab", name="Book").click()

    # A day the demo salon is open, far enough ahead that its slots have not passed.
    day = next_weekday(date.today())
    segments = page.get_by_test_id("stDateInput").filter(has_text="Day").get_by_role("spinbutton")
    segments.first.click()
    page.keyboard.type(day.strftime("%Y%m%d"))
    page.keyboard.press("Escape")  # close the date picker's calendar
    page.get_by_role("heading", name="Calendar", exact=True).click()  # leave the field: the day is sent
    # Wait for the run that used the new day (pressing Tab sends it; a run may already be under way).
    expect(page.get_by_text(re.compile(rf"^\d+ free times on {day:%a} {day.day} {day:%b}$"))).to_be_visible()
    idle(page)

    free_times = page.get_by_role("combobox", name="Free times", exact=True)
    expect(free_times).to_be_visible()
    chosen = free_times.input_value()
    assert re.match(r"^\d\d:\d\d–\d\d:\d\d · ", chosen), chosen
    page.get_by_role("button", name="Book", exact=True).click()
    idle(page)

    success = page.get_by_test_id("stAlertContentSuccess")
    expect(success).to_have_text(re.compile(rf"^Booked .+ with {re.escape(chosen.split(' · ')[1])} on "
                                            rf"{day:%a} {day:%d} {day:%b} {re.escape(chosen[:5])}\.$"))
