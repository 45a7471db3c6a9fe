"""Sign-up: a new business and its owner, signed in at once; nothing written on bad input."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from kaimen_core import auth, db, tenancy
from kaimen_core.actors import Origin
from kaimen_core.models import AuditEvent, Business, User, UserSession
from pages import _ui
from tests.factories import make_business
from tests.menus import OWNER_MENU, titles
from tests.pages.markdown import assert_shown_as_text

GOOD = {
    "business_name": "Fern Street Barbers",
    "owner_name": "Ada Fern",
    "email": "ada@fernstreet.example",
    "phone": "(212) 555-0142",
    "password": "a long enough passphrase",
    "confirm": "a long enough passphrase",
}


def _counts() -> dict[str, int]:
    with db.system_session() as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Business, User, UserSession, AuditEvent)
        }


@pytest.fixture
def sign_up_page(app):
    """A signed-out tab on the sign-up page."""
    at = app().run().switch_page("pages/sign_up.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Create your Kaimen account"]
    return at


def test_the_form_asks_for_an_email_and_no_username(sign_up_page):
    assert [w.label for w in sign_up_page.text_input] == [
        "Business name", "Your name", "Email", "Business phone", "Password", "Repeat password"]
    assert "You sign in with your email address and password." in sign_up_page.caption[0].value


def _fill(at, **values) -> None:
    for field, value in {**GOOD, **values}.items():
        at.text_input(key=f"signup_{field}").input(value)


def test_a_new_business_lands_on_its_dashboard(sign_up_page, press, navigation):
    at = sign_up_page
    _fill(at)
    at.selectbox(key="signup_time_zone").select("America/Chicago")
    press(at, "Create account")

    assert not at.exception
    assert not at.error
    assert [t.value for t in at.title] == ["Fern Street Barbers"]
    assert [c.value for c in at.sidebar.caption] == ["Owner · ada"]
    assert navigation[-1].titles == titles(OWNER_MENU)
    actor = auth.resolve_session(cookie=at.session_state["kaimen_cookie"])
    assert (actor.role, actor.username) == ("owner", "ada")
    with db.system_session() as session:
        business = session.get(Business, actor.business_id)
        owner = session.get(User, actor.user_id)
    assert (business.name, business.slug, business.region, business.time_zone, business.phone) == (
        "Fern Street Barbers", "fern-street-barbers", "US", "America/Chicago", "+12125550142"
    )
    assert (owner.display_name, owner.email, owner.business_id) == ("Ada Fern", "ada@fernstreet.example",
                                                                     business.id)


def test_the_sign_up_page_links_back_to_sign_in(sign_up_page):
    assert [link.proto.label for link in sign_up_page.get("page_link")] == ["Already have an account? Sign in"]
    assert not sign_up_page.sidebar.children


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"business_name": ""}, "Business name is required."),
        ({"business_name": "   "}, "Business name is required."),
        ({"owner_name": ""}, "Your name is required."),
        ({"email": "ada-at-example"}, "'ada-at-example' is not a valid email address."),
        ({"email": "ada\x00@fernstreet.example"}, "Email must not contain control characters."),
        ({"password": "a long\x00enough passphrase", "confirm": "a long\x00enough passphrase"},
         "Password must not contain control characters."),
        ({"password": "too short", "confirm": "too short"}, "Password must be at least 12 characters."),
        ({"confirm": "a different passphrase"}, "The two passwords do not match."),
        ({"email": "{taken_email}"}, tenancy.EMAIL_IN_USE),
        ({"email": "  {taken_email_upper} "}, tenancy.EMAIL_IN_USE),
        ({"phone": "call me"}, "'call me' is not a phone number."),
        ({"phone": "555"}, "'555' is not a valid phone number for US; include the country code (+44 ...) "
                           "for numbers from other countries."),
        ({"phone": ""}, "Phone number is required."),
    ],
    ids=["no-business-name", "blank-business-name", "no-owner-name", "bad-email", "nul-in-email",
         "nul-in-password", "short-password", "mismatch", "duplicate-email", "duplicate-email-case",
         "not-a-phone", "invalid-phone", "no-phone"],
)
def test_bad_input_shows_a_specific_error_and_writes_nothing(sign_up_page, press, values, message):
    existing = make_business()
    names = {"taken_email": f"{existing.username}@example.com",
             "taken_email_upper": f"{existing.username}@EXAMPLE.COM"}
    before = _counts()
    at = sign_up_page

    _fill(at, **{field: value.format(**names) for field, value in values.items()})
    press(at, "Create account")

    assert not at.exception
    assert [e.value for e in at.error] == [message.format(**names)]
    assert [t.value for t in at.title] == ["Create your Kaimen account"]
    assert "kaimen_cookie" not in at.session_state
    assert not at.sidebar.children
    assert _counts() == before


@pytest.mark.parametrize("typed", ["![x](http://198.51.100.9/x.png)", "[win](http://198.51.100.9)", "# big"])
def test_an_error_quoting_what_was_typed_shows_it_as_text(sign_up_page, press, typed):
    at = sign_up_page
    _fill(at, email=typed)
    press(at, "Create account")
    assert len(at.error) == 1
    assert_shown_as_text(at, typed)


def test_after_a_mistake_the_corrected_form_goes_through(sign_up_page, press):
    at = sign_up_page
    _fill(at, confirm="a different passphrase")
    press(at, "Create account")
    assert at.error

    at.text_input(key="signup_confirm").input(GOOD["password"])
    press(at, "Create account")

    assert not at.error
    assert [t.value for t in at.title] == ["Fern Street Barbers"]
    assert _counts()["Business"] == 1


def test_a_network_past_its_sign_ups_is_told_when_to_try_again(sign_up_page, press, monkeypatch):
    # AppTest gives a run no client address (st.context.ip_address comes from the connection),
    # so the tab's address is set where the pages read it.
    monkeypatch.setattr(_ui, "origin", lambda: Origin(ip_address="198.51.100.23"))
    for n in range(auth.NEW_ACCOUNTS_PER_NETWORK.attempts):
        tenancy.sign_up(business_name=f"Salon {n}", owner_name="Owner", email=f"salon{n}@example.com",
                        phone="+12125550100", region="US", time_zone="UTC", password=GOOD["password"],
                        confirm_password=GOOD["password"], origin=_ui.origin())
    before = _counts()
    at = sign_up_page

    _fill(at)
    press(at, "Create account")

    assert not at.exception
    assert [e.value for e in at.error] == ["Too many attempts from this network; try again in 60 minutes."]
    assert "kaimen_cookie" not in at.session_state
    assert _counts() == {**before, "AuditEvent": before["AuditEvent"] + 1}  # the refusal, audited once
