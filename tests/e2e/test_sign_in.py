"""Signing in, staying signed in, signing out and signing up, as a person sees it in Chromium."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.journeys import idle
from tests.menus import OWNER_MENU, STAFF_MENU, titles

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright for Python")
expect = sync_api.expect

pytestmark = pytest.mark.browser

COOKIE = "kaimen_session"
INCORRECT = "Username or password is incorrect."
LOCKED = re.compile(r"Too many failed sign-in attempts\. Sign-in for this username is locked until \d\d:\d\d UTC\.")


# --- what a person does --------------------------------------------------------------


def open_page(context, url: str):
    page = context.new_page()
    page.goto(url)
    idle(page)
    return page


def submit_sign_in(page, username: str, password: str) -> None:
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Username").fill(username)
    form.get_by_role("textbox", name="Password", exact=True).fill(password)
    form.get_by_role("button", name="Login").click()
    idle(page)


def sign_in(context, url: str, username: str, password: str):
    page = open_page(context, url)
    submit_sign_in(page, username, password)
    return page


def session_cookies(context, *, present: bool = True, timeout: float = 10) -> list[dict]:
    """The browser's kaimen_session cookie (a small script writes or clears it just after the run)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in context.cookies() if c["name"] == COOKIE and c["value"]]
        if bool(found) == present or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- what a person sees --------------------------------------------------------------


def expect_sign_in_form(page) -> None:
    expect(page.get_by_role("heading", name="Login")).to_be_visible()
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(page.get_by_role("textbox", name="Password", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Login")).to_be_visible()


def expect_dashboard(page, business: str) -> None:
    expect(page.get_by_role("heading", name=business, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Login")).to_have_count(0)


def sidebar_links(page) -> list[str]:
    links = page.get_by_test_id("stSidebarNavLink")
    expect(links.first).to_be_visible()
    return [text.strip() for text in links.get_by_test_id("stMarkdownContainer").all_inner_texts()]


def expect_error(page, message: str | re.Pattern) -> None:
    expect(page.get_by_test_id("stAlertContentError")).to_have_text(message)


# --- the journeys --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "hidden"),
    [
        ("team", ["Team", "Add a staff member"]),
        ("settings", ["Settings"]),
        ("audit-log", ["Audit log"]),
        ("audit_log", ["Audit log"]),  # the name Streamlit gives pages/audit_log.py by itself
        ("ui", []),  # pages/_ui.py, the shared helpers, which is no page at all
    ],
)
def test_a_signed_out_visitor_opening_a_page_directly_sees_only_the_sign_in_form(
    fresh_server, new_context, path, hidden
):
    # The very first request this server gets: before any browser session has built
    # the navigation, Streamlit would serve pages/<name>.py straight from the folder.
    page = open_page(new_context(), f"{fresh_server.url}/{path}")

    expect_sign_in_form(page)
    for text in hidden:
        expect(page.get_by_role("heading", name=text, exact=True)).to_have_count(0)
    expect(page.get_by_text("Add a staff member")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


def test_owner_signs_in_and_stays_signed_in_across_reloads_and_browsers(server, new_context):
    context = new_context()
    page = sign_in(context, server.url, "demo-owner", server.demo_password)

    expect_dashboard(page, "Demo Salon")
    assert sidebar_links(page) == titles(OWNER_MENU)
    cookies = session_cookies(context)
    assert cookies, "no kaimen_session cookie after signing in"

    page.reload()
    idle(page)
    expect_dashboard(page, "Demo Salon")

    elsewhere = open_page(new_context(cookies=cookies), server.url)
    expect_dashboard(elsewhere, "Demo Salon")
    expect(elsewhere.get_by_text("Signed in as Dana Owner")).to_be_visible()


def test_five_failed_sign_ins_lock_the_username_in_every_browser(server, new_context):
    context = new_context()
    for _ in range(4):
        page = sign_in(context, server.url, server.lockout_username, "not the password")
        expect_error(page, INCORRECT)
        page.close()

    page = sign_in(context, server.url, server.lockout_username, "not the password either")
    expect_error(page, LOCKED)

    page = sign_in(context, server.url, server.lockout_username, server.lockout_password)
    expect_error(page, LOCKED)
    expect_sign_in_form(page)

    # Another browser, with none of the first one's state: the lock is kept by the server.
    other = sign_in(new_context(), server.url, server.lockout_username, server.lockout_password)
    expect_error(other, LOCKED)
    expect(other.get_by_role("heading", name="Platform overview")).to_have_count(0)
    assert not session_cookies(other.context, present=True, timeout=1)


def test_signing_out_ends_the_session_on_the_server(server, new_context):
    context = new_context()
    page = sign_in(context, server.url, "demo-owner", server.demo_password)
    expect_dashboard(page, "Demo Salon")
    old_cookies = session_cookies(context)
    assert old_cookies

    page.get_by_test_id("stSidebar").get_by_role("button", name="Logout").click()
    idle(page)

    expect(page.get_by_text("You have signed out.")).to_be_visible()
    expect_sign_in_form(page)
    assert not session_cookies(context, present=False)

    # A copy of the old cookie (kept by an attacker, or a second device) no longer works.
    replay = open_page(new_context(cookies=old_cookies), server.url)
    expect_sign_in_form(replay)
    expect(replay.get_by_role("heading", name="Demo Salon")).to_have_count(0)


def test_staff_see_home_and_account_only(server, new_context):
    context = new_context()
    page = sign_in(context, server.url, "demo-staff", server.demo_password)

    expect_dashboard(page, "Demo Salon")
    assert sidebar_links(page) == titles(STAFF_MENU)
    expect(page.get_by_role("heading", name="Recent activity")).to_have_count(0)

    team = open_page(context, f"{server.url}/team")
    expect(team.get_by_text("Page not found")).to_be_visible()
    expect_dashboard(team, "Demo Salon")
    expect(team.get_by_role("heading", name="Team", exact=True)).to_have_count(0)
    expect(team.get_by_text("Add a staff member")).to_have_count(0)
    assert sidebar_links(team) == titles(STAFF_MENU)


def test_a_new_business_signs_up_and_lands_on_its_dashboard(server, new_context):
    page = open_page(new_context(), server.url)
    page.get_by_role("link", name=re.compile("New to Kaimen")).click()
    idle(page)
    expect(page.get_by_role("heading", name="Create your Kaimen account")).to_be_visible()

    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Business name").fill("Harbor Nails")
    form.get_by_role("textbox", name="Your name").fill("Rosa Diaz")
    form.get_by_role("textbox", name="Email").fill("rosa@harbor-nails.example")
    form.get_by_role("textbox", name="Business phone").fill("(212) 555-0142")
    form.get_by_role("textbox", name="Password", exact=True).fill("short")
    form.get_by_role("textbox", name="Repeat password").fill("short")
    form.get_by_role("button", name="Create account").click()
    idle(page)
    expect_error(page, "Password must be at least 12 characters.")
    idle(page)

    form.get_by_role("textbox", name="Password", exact=True).fill("harbor nails 2026")
    form.get_by_role("textbox", name="Repeat password").fill("harbor nails 2026")
    form.get_by_role("button", name="Create account").click()
    idle(page)

    expect_dashboard(page, "Harbor Nails")
    expect(page.get_by_text("Signed in as Rosa Diaz · times shown in America/New_York")).to_be_visible()
    assert sidebar_links(page) == titles(OWNER_MENU)
    assert session_cookies(page.context)
