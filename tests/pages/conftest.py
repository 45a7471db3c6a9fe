"""Page tests: Streamlit's AppTest runs Home.py, the entry file, as a browser session would.

Every page test takes the ``database`` fixture (through ``app``). Here it is one
database: PostgreSQL when KAIMEN_TEST_POSTGRES_URL is set, else SQLite. A page adds
the screen on top of kaimen_core, whose own tests run on both. AppTest runs the script
in this process, so the app's engine points at the test database.

Fixtures:

- ``app()``: a new browser tab on Home.py (not yet run); ``app(cookie=...)`` is a tab
  that already holds a sign-in cookie, as if the browser had sent it.
- ``fresh_server_app()``: the same, as a server that has not yet run Home.py serves it.
- ``sign_in(at, username, password)``: types into the sign-in form and presses Login.
- ``press(at, label)``: clicks the one button with that label and runs.
- ``signed_in(username)``: a new tab, signed in, showing Home. It signs in through
  kaimen_core and hands the tab the cookie, as a browser that signed in before would;
  ``signed_in_through_the_form`` types into the form instead (the sign-in page's tests).
- ``navigation``: what each run passed to ``st.navigation`` (AppTest has no public
  view of the navigation menu, so the fixture records the calls Home.py makes).
- ``page_failures``: the unexpected errors pages logged (``ui.failures_logged`` keeps
  them off the screen, so ``not at.exception`` alone would miss them). Every page test
  fails on one it left in this list; a test that causes one on purpose takes it out.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.components.v2 import manifest_scanner
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from kaimen_core import auth
from kaimen_core.actors import Origin
from pages import _ui as ui
from tests.conftest import ONE_DATABASE, TestDatabase, open_database
from tests.factories import PASSWORD

HOME = Path(__file__).resolve().parents[2] / "Home.py"


# What pages/_ui.origin() reports under AppTest, which has no request: the same audit trail.
_APPTEST_ORIGIN = Origin(ip_address=None, user_agent=None)


class _Kept(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def page_failures() -> Iterator[list[logging.LogRecord]]:
    """The errors pages logged during the test; any left at its end fail it."""
    records: list[logging.LogRecord] = []
    handler = _Kept(records)
    logger = logging.getLogger(ui.__name__)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
    assert not records, [record.getMessage() for record in records]


@pytest.fixture(scope="session", autouse=True)
def components_found_once() -> Iterator[None]:
    """Look for installed Streamlit components once per run, not once per tab.

    Every new AppTest reads the metadata of every installed package for component
    manifests (about 0.3 s here, most of a short page test's time). What is installed
    does not change during a run, so the first answer serves every tab.
    """
    with pytest.MonkeyPatch.context() as patch:
        scan = functools.cache(manifest_scanner.scan_component_manifests)
        patch.setattr(manifest_scanner, "scan_component_manifests", scan)
        yield


@pytest.fixture(params=ONE_DATABASE)
def database(request, tmp_path) -> Iterator[TestDatabase]:
    """A clean, migrated database (PostgreSQL when configured, else SQLite); the app points at it."""
    with open_database(request, request.param, tmp_path) as opened:
        yield opened


def _new_tab(cookie: str | None = None) -> AppTest:
    at = AppTest.from_file(str(HOME), default_timeout=30)
    if cookie is not None:
        at.session_state["kaimen_cookie"] = cookie
    return at


@pytest.fixture
def settled_server(monkeypatch) -> None:
    """Run AppTest as a server that has already served a page through ``st.navigation``.

    Streamlit decides once per process whether to treat a ``pages/`` folder as the old
    file-per-page navigation: it does until the first ``st.navigation`` call, and never
    again after it. AppTest resets that decision before every run, so each run of a test
    behaves like the very first request to a fresh server: a page whose file name
    matches its URL (``pages/team.py`` at ``/team``) is run straight from the folder,
    ``_ui.require_entry`` sends it back through Home.py, and the user lands on Home
    instead of the page asked for. Real servers are in that state only until the first
    run of Home.py; ``tests/pages/test_navigation.py`` checks that the guard holds then.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def app(database, settled_server) -> Callable[..., AppTest]:
    """A new browser tab on Home.py, optionally holding a sign-in cookie."""

    def build(*, cookie: str | None = None) -> AppTest:
        return _new_tab(cookie)

    return build


@pytest.fixture
def fresh_server_app(database) -> Callable[..., AppTest]:
    """A new tab as the first request to a fresh server gets it (AppTest's own behaviour)."""

    def build(*, cookie: str | None = None) -> AppTest:
        return _new_tab(cookie)

    return build


def _press(at: AppTest, label: str) -> AppTest:
    [button] = [button for button in at.button if button.label == label]
    return button.click().run()


def _submit_sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return _press(at, "Login")


@pytest.fixture
def press() -> Callable[[AppTest, str], AppTest]:
    """Click the one button (or form submit button) with this label, and run."""
    return _press


@pytest.fixture
def sign_in() -> Callable[[AppTest, str, str], AppTest]:
    """Fill in the sign-in form of a tab showing it and press Login."""
    return _submit_sign_in


def _showing_home(at: AppTest) -> AppTest:
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert "login_username" not in [w.key for w in at.text_input]
    return at


@pytest.fixture
def signed_in(app) -> Callable[..., AppTest]:
    """A new tab, signed in as ``username``, showing Home.

    kaimen_core checks the password and opens the session, exactly as the sign-in page
    does; the tab gets the cookie, and its first run shows Home. One run instead of the
    form's three; the form itself is what tests/pages/test_sign_in.py tests.
    """

    def open_tab(username: str, password: str = PASSWORD) -> AppTest:
        cookie = auth.sign_in(username=username, password=password, origin=_APPTEST_ORIGIN).cookie
        return _showing_home(app(cookie=cookie).run())

    return open_tab


@pytest.fixture
def signed_in_through_the_form(app) -> Callable[..., AppTest]:
    """A new tab, signed in by typing ``username`` and ``password`` into the form, showing Home."""

    def open_tab(username: str, password: str = PASSWORD) -> AppTest:
        return _showing_home(_submit_sign_in(app().run(), username, password))

    return open_tab


@dataclass(frozen=True)
class NavigationCall:
    """One call of ``st.navigation``: the menu's sections with their page titles."""

    sections: dict[str, list[str]]
    position: str

    @property
    def titles(self) -> list[str]:
        return [title for titles in self.sections.values() for title in titles]


@pytest.fixture
def navigation(monkeypatch) -> Iterator[list[NavigationCall]]:
    """Every ``st.navigation`` call of the test, in order (the last is the current menu)."""
    calls: list[NavigationCall] = []
    original = st.navigation

    def recording(pages, *, position="sidebar", **kwargs):
        grouped = pages if isinstance(pages, dict) else {"": pages}
        calls.append(
            NavigationCall(
                sections={section: [page.title for page in group] for section, group in grouped.items()},
                position=position,
            )
        )
        return original(pages, position=position, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    yield calls
