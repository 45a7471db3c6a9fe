"""Signing in and out through Home.py, lockout, and sessions ended from elsewhere."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from kaimen_core import auth, db, tenancy
from kaimen_core.actors import Origin
from kaimen_core.exceptions import InvalidCredentials, SessionInvalid
from kaimen_core.models import LoginAttempt
from pages import _ui
from tests.factories import ORIGIN, PASSWORD, make_business, make_operator, make_staff

INCORRECT = "Username or password is incorrect."
EMPTY = "Enter your username (or email) and your password."
SIGNED_OUT_ELSEWHERE = "You have been signed out. Please sign in again."
SUSPENDED = "This business's Kaimen account is suspended. Contact Kaimen support."
REMOVED = "This account has been removed."
BUSINESS_METRICS = ["Customers", "Upcoming bookings", "Texts, last 30 days", "Open privacy requests"]


@pytest.fixture
def signed_in(signed_in_through_the_form):
    """This page's own tests sign in by typing into its form."""
    return signed_in_through_the_form


def _login_attempts() -> int:
    with db.system_session() as session:
        return session.exec(select(func.count()).select_from(LoginAttempt)).one()


def assert_sign_in_page(at, *, notice: str | None = None) -> None:
    """The tab shows the sign-in form and nothing of any signed-in page."""
    assert not at.exception
    assert [t.value for t in at.title] == ["Kaimen"]
    assert [(w.key, w.label) for w in at.text_input] == [("login_username", "Username"),
                                                        ("login_password", "Password")]
    assert [b.label for b in at.button] == ["Login"]
    assert [i.value for i in at.info] == ([notice] if notice else [])
    assert not at.metric
    assert not at.dataframe
    assert not at.sidebar.children
    assert "kaimen_cookie" not in at.session_state


def test_a_signed_out_first_run_shows_only_the_sign_in_form(app, navigation):
    at = app().run()

    assert_sign_in_page(at)
    assert not at.error
    assert at.text_input(key="login_password").proto.type == at.text_input(key="login_password").proto.PASSWORD
    assert [link.proto.label for link in at.get("page_link")] == [
        "New to Kaimen? Create an account for your business"
    ]
    # The menu lists only the sign-in and sign-up pages, and is not even shown.
    assert navigation[-1].titles == ["Sign in", "Sign up"]
    assert navigation[-1].position == "hidden"


def test_the_right_password_shows_the_business_dashboard(app, sign_in, navigation):
    tenant = make_business("Harbour Salon")

    at = sign_in(app().run(), tenant.username, PASSWORD)

    assert not at.exception
    assert not at.error
    assert [t.value for t in at.title] == ["Harbour Salon"]
    assert [m.label for m in at.metric] == BUSINESS_METRICS
    assert [m.value for m in at.metric] == ["0", "0", "0", "0"]
    assert "login_username" not in [w.key for w in at.text_input]
    assert [b.key for b in at.sidebar.button] == ["Logout"]
    assert [c.value for c in at.sidebar.caption] == [f"Owner · {tenant.username}"]
    assert navigation[-1].position == "sidebar"
    assert auth.resolve_session(cookie=at.session_state["kaimen_cookie"]).business_id == tenant.business_id

    at.run()  # the next run keeps the tab signed in
    assert not at.exception
    assert [t.value for t in at.title] == ["Harbour Salon"]


def test_the_email_address_signs_in_too(app, sign_in):
    tenant = make_business("Harbour Salon")

    at = sign_in(app().run(), f"  {tenant.username.upper()}@EXAMPLE.COM ", PASSWORD)

    assert not at.exception
    assert not at.error
    assert [t.value for t in at.title] == ["Harbour Salon"]


def test_a_wrong_password_is_refused(app, sign_in):
    tenant = make_business()

    at = sign_in(app().run(), tenant.username, "not the password")

    assert [e.value for e in at.error] == [INCORRECT]
    assert_sign_in_page(at)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(app, sign_in):
    make_business()

    at = sign_in(app().run(), "nobody-here", PASSWORD)

    assert [e.value for e in at.error] == [INCORRECT]
    assert_sign_in_page(at)


@pytest.mark.parametrize(("username", "password"), [("", ""), ("owner", ""), ("", PASSWORD), ("   ", PASSWORD)])
def test_empty_fields_ask_for_both_and_count_no_attempt(app, sign_in, username, password):
    make_business()

    at = sign_in(app().run(), username, password)

    assert [e.value for e in at.error] == [EMPTY]
    assert_sign_in_page(at)
    assert _login_attempts() == 0


@pytest.mark.parametrize("username", ["{owner}\x00", "ow\x00ner", "{owner}\x1b[31m"],
                         ids=["nul-after", "nul-inside", "escape"])
def test_a_control_character_in_the_username_gets_the_wrong_password_answer(app, sign_in, username):
    tenant = make_business()

    at = sign_in(app().run(), username.format(owner=tenant.username), PASSWORD)

    assert [e.value for e in at.error] == [INCORRECT]
    assert_sign_in_page(at)
    assert _login_attempts() == 0


def test_a_network_past_its_failed_sign_ins_is_told_when_to_try_again(app, sign_in, monkeypatch):
    # AppTest gives a run no client address (st.context.ip_address comes from the connection),
    # so the tab's address is set where the pages read it.
    monkeypatch.setattr(_ui, "origin", lambda: Origin(ip_address="203.0.113.50"))
    tenant = make_business("Harbour Salon")
    for n in range(auth.SIGN_IN_PER_NETWORK.attempts):
        with pytest.raises(InvalidCredentials):
            auth.sign_in(username=f"guess-{n}", password="not the password", origin=_ui.origin())

    at = sign_in(app().run(), tenant.username, PASSWORD)

    assert [e.value for e in at.error] == ["Too many attempts from this network; try again in 15 minutes."]
    assert_sign_in_page(at)
    # A tab on another network signs in.
    monkeypatch.setattr(_ui, "origin", lambda: Origin(ip_address="198.51.100.7"))
    elsewhere = sign_in(app().run(), tenant.username, PASSWORD)
    assert not elsewhere.error
    assert [t.value for t in elsewhere.title] == ["Harbour Salon"]


def test_after_five_wrong_passwords_even_the_right_one_is_refused(app, sign_in):
    tenant = make_business()
    at = app().run()

    for _ in range(auth.LOCKOUT_ATTEMPTS - 1):
        sign_in(at, tenant.username, "not the password")
        assert [e.value for e in at.error] == [INCORRECT]
    sign_in(at, tenant.username, "not the password")
    [locked] = [e.value for e in at.error]
    assert locked.startswith("Too many failed sign-in attempts. Sign-in for this username is locked until ")

    sign_in(at, tenant.username, PASSWORD)
    assert [e.value for e in at.error] == [locked]
    assert_sign_in_page(at)
    # The lock is on the server: a new tab (another browser) is refused as well.
    assert [e.value for e in sign_in(app().run(), tenant.username, PASSWORD).error] == [locked]


def test_logout_revokes_the_session_and_shows_the_sign_in_page(app, signed_in, navigation):
    tenant = make_business()
    at = signed_in(tenant.username)
    cookie = at.session_state["kaimen_cookie"]

    at.sidebar.button(key="Logout").click().run()

    assert_sign_in_page(at, notice="You have signed out.")
    assert navigation[-1].titles == ["Sign in", "Sign up"]
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=cookie)
    # The notice is shown once; the tab stays signed out.
    at.run()
    assert_sign_in_page(at)
    # The browser's copy of the cookie no longer signs anyone in.
    assert_sign_in_page(app(cookie=cookie).run(), notice=SIGNED_OUT_ELSEWHERE)


def test_logout_works_from_any_page(app, signed_in):
    tenant = make_business()
    at = signed_in(tenant.username)
    cookie = at.session_state["kaimen_cookie"]
    at.switch_page("pages/account.py").run()
    assert [t.value for t in at.title] == ["Account"]

    at.sidebar.button(key="Logout").click().run()

    assert_sign_in_page(at, notice="You have signed out.")
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=cookie)


def test_signing_in_again_after_logout_works(app, signed_in, sign_in):
    tenant = make_business("Harbour Salon")
    at = signed_in(tenant.username)
    at.sidebar.button(key="Logout").click().run()

    sign_in(at, tenant.username, PASSWORD)

    assert not at.error
    assert [t.value for t in at.title] == ["Harbour Salon"]
    assert not at.info


# --- a session ended outside this tab is noticed on the tab's next run ----------------


def _sign_out_elsewhere(tenant, cookie):
    auth.sign_out(cookie=cookie, origin=ORIGIN)
    return SIGNED_OUT_ELSEWHERE


def _change_password_in_another_browser(tenant, cookie):
    other = auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    with db.tenant_session(other.actor) as session:
        auth.change_password(session, actor=other.actor, current_password=PASSWORD,
                             new_password="a brand new passphrase", confirm_password="a brand new passphrase")
    return SIGNED_OUT_ELSEWHERE


def _suspend_business(tenant, cookie):
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=tenant.business_id, action="suspend",
                        reason="Repeated spam complaints")
    return SUSPENDED


@pytest.mark.parametrize(
    "end_session",
    [_sign_out_elsewhere, _change_password_in_another_browser, _suspend_business],
    ids=["signed-out", "password-changed-elsewhere", "business-suspended"],
)
def test_an_owner_whose_session_ended_elsewhere_is_back_on_the_sign_in_page(app, signed_in, end_session):
    tenant = make_business()
    at = signed_in(tenant.username)
    cookie = at.session_state["kaimen_cookie"]

    notice = end_session(tenant, cookie)
    at.run()

    assert_sign_in_page(at, notice=notice)
    at.run()
    assert_sign_in_page(at)


def test_a_removed_staff_member_is_back_on_the_sign_in_page(app, signed_in):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    at = signed_in(staff.username)

    with db.tenant_session(tenant.owner) as session:
        auth.remove_user(session, actor=tenant.owner, user_id=staff.user_id)
    at.run()

    assert_sign_in_page(at, notice=REMOVED)


def test_a_suspended_business_cannot_sign_in(app, sign_in):
    tenant = make_business()
    _suspend_business(tenant, None)

    at = sign_in(app().run(), tenant.username, PASSWORD)

    assert [e.value for e in at.error] == [SUSPENDED]
    assert_sign_in_page(at)


def test_a_forged_cookie_shows_the_sign_in_page(app):
    tenant = make_business()
    token = tenant.owner_cookie.partition(".")[0]

    at = app(cookie=f"{token}.not-the-signature").run()

    assert_sign_in_page(at, notice="Please sign in.")
