"""The Account page: who you are, and changing your password."""

from __future__ import annotations

import pytest

from kaimen_core import auth
from kaimen_core.exceptions import SessionInvalid
from tests.factories import PASSWORD, make_business, make_operator

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def account_page(signed_in):
    """A tab signed in as ``username``, on the Account page."""

    def open_page(username: str):
        at = signed_in(username).switch_page("pages/account.py").run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Account"]
        return at

    return open_page


def _change(at, press, current: str, new: str, confirm: str | None = None):
    at.text_input(key="current_password").input(current)
    at.text_input(key="new_password").input(new)
    at.text_input(key="confirm_new_password").input(new if confirm is None else confirm)
    return press(at, "Change password")


def test_the_page_says_who_is_signed_in(account_page):
    tenant = make_business()

    at = account_page(tenant.username)

    assert [m.value for m in at.main.markdown] == [
        f"Signed in as **{tenant.owner.display_name}** (`{tenant.username}`), owner."
    ]


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("not my password", NEW_PASSWORD, None, "The current password is incorrect."),
        ("", NEW_PASSWORD, None, "The current password is incorrect."),
        (PASSWORD, "too short", None, "Password must be at least 12 characters."),
        (PASSWORD, NEW_PASSWORD, "a different passphrase", "The two passwords do not match."),
        (PASSWORD, PASSWORD, None, "The new password must differ from the current one."),
    ],
    ids=["wrong-current", "empty-current", "short", "mismatch", "unchanged"],
)
def test_a_refused_change_shows_why_and_keeps_the_password(account_page, press, app, sign_in,
                                                           current, new, confirm, message):
    tenant = make_business()
    at = account_page(tenant.username)

    _change(at, press, current, new, confirm)

    assert not at.exception
    assert [e.value for e in at.error] == [message]
    assert not at.success
    assert not sign_in(app().run(), tenant.username, PASSWORD).error
    assert auth.resolve_session(cookie=at.session_state["kaimen_cookie"]).username == tenant.username


def test_a_changed_password_replaces_the_old_one(account_page, press, app, sign_in):
    tenant = make_business("Harbour Salon")
    at = account_page(tenant.username)

    _change(at, press, PASSWORD, NEW_PASSWORD)

    assert not at.exception
    assert not at.error
    # The owner's sign-up session (another browser) was signed out; this tab was not.
    assert [s.value for s in at.success] == ["Password changed. 1 other session(s) were signed out."]
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=tenant.owner_cookie)
    at.run()
    assert [t.value for t in at.title] == ["Account"]

    refused = sign_in(app().run(), tenant.username, PASSWORD)
    assert [e.value for e in refused.error] == ["Username or password is incorrect."]
    accepted = sign_in(app().run(), tenant.username, NEW_PASSWORD)
    assert not accepted.error
    assert [t.value for t in accepted.title] == ["Harbour Salon"]


def test_an_operator_changes_their_password(account_page, press, app, sign_in):
    operator, operator_cookie = make_operator()
    at = account_page(operator.username)
    assert [m.value for m in at.main.markdown] == [
        f"Signed in as **{operator.display_name}** (`{operator.username}`), operator."
    ]

    _change(at, press, PASSWORD, NEW_PASSWORD)

    assert not at.error
    assert [s.value for s in at.success] == ["Password changed. 1 other session(s) were signed out."]
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=operator_cookie)
    assert [t.value for t in sign_in(app().run(), operator.username, NEW_PASSWORD).title] == ["Platform overview"]
