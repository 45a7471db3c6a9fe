"""What every browser journey does first: wait for Streamlit, sign in, open a page."""

from __future__ import annotations

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def idle(page) -> None:
    """Wait until the app has finished its run (a click while it runs can be lost)."""
    page.locator(IDLE).wait_for()


def signed_in_page(server, new_context, *, username: str = "demo-owner", password: str | None = None):
    """A new browser page signed in through the form, showing Home."""
    page = new_context().new_page()
    page.goto(server.url)
    idle(page)
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Username").fill(username)
    form.get_by_role("textbox", name="Password", exact=True).fill(password or server.demo_password)
    form.get_by_role("button", name="Login").click()
    idle(page)
    return page


def open_from_sidebar(page, title: str) -> None:
    """Click a page in the sidebar navigation and wait for it."""
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).first.click()
    idle(page)
