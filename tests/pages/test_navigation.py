"""Which pages each role's navigation lists, and that no other page can be reached."""

from __future__ import annotations

import pytest

from tests.factories import make_business, make_operator, make_staff
from tests.menus import OPERATOR_MENU, OPERATOR_ONLY_PAGES, OWNER_MENU, OWNER_ONLY_PAGES, STAFF_MENU

ALL_PAGES = ["dashboard", "team", "settings", "audit_log", "account", "businesses", "sign_in", "sign_up"]


def _title(at) -> list[str]:
    assert not at.exception
    return [t.value for t in at.title]


def _unreachable(at, page: str) -> None:
    """AppTest refuses to switch to a page the navigation does not list."""
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"pages/{page}.py")


def test_an_owner_sees_home_team_settings_audit_log_and_account(signed_in, navigation):
    tenant = make_business("Harbour Salon")
    at = signed_in(tenant.username)

    assert navigation[-1].sections == OWNER_MENU
    for page, title in [("team", "Team"), ("settings", "Settings"), ("audit_log", "Audit log"),
                        ("account", "Account"), ("dashboard", "Harbour Salon")]:
        assert _title(at.switch_page(f"pages/{page}.py").run()) == [title]
        assert [b.key for b in at.sidebar.button] == ["Logout"]
    for page in [*OPERATOR_ONLY_PAGES, "sign_in", "sign_up"]:
        _unreachable(at, page)


def test_staff_see_only_home_and_account(app, signed_in, navigation):
    tenant = make_business("Harbour Salon")
    staff, cookie = make_staff(tenant)
    at = signed_in(staff.username)

    assert navigation[-1].sections == STAFF_MENU
    assert _title(at.switch_page("pages/account.py").run()) == ["Account"]
    assert _title(at.switch_page("pages/dashboard.py").run()) == ["Harbour Salon"]
    for page in [*OWNER_ONLY_PAGES, *OPERATOR_ONLY_PAGES, "sign_in", "sign_up"]:
        _unreachable(at, page)
    # A tab opened with the cookie alone gets the same menu.
    _unreachable(app(cookie=cookie).run(), "team")


def test_an_operator_sees_the_platform_pages_and_no_business_pages(signed_in, navigation):
    operator, _ = make_operator()
    at = signed_in(operator.username)

    assert _title(at) == ["Platform overview"]
    assert navigation[-1].sections == OPERATOR_MENU
    assert _title(at.switch_page("pages/businesses.py").run()) == ["Businesses"]
    assert _title(at.switch_page("pages/audit_log.py").run()) == ["System events"]
    assert _title(at.switch_page("pages/account.py").run()) == ["Account"]
    for page in [p for p in OWNER_ONLY_PAGES if p != "audit_log"] + ["customers", "calendar", "inbox",
                                                                      "sign_in", "sign_up"]:
        _unreachable(at, page)


def test_signed_out_only_sign_in_and_sign_up_can_be_reached(app, navigation):
    make_business()
    at = app().run()

    assert navigation[-1].titles == ["Sign in", "Sign up"]
    assert navigation[-1].position == "hidden"
    assert _title(at.switch_page("pages/sign_up.py").run()) == ["Create your Kaimen account"]
    assert _title(at.switch_page("pages/sign_in.py").run()) == ["Kaimen"]
    for page in ["dashboard", "team", "settings", "audit_log", "account", "businesses"]:
        _unreachable(at, page)


def test_signing_out_takes_the_pages_away(signed_in, navigation):
    tenant = make_business()
    at = signed_in(tenant.username)
    at.switch_page("pages/team.py").run()

    at.sidebar.button(key="Logout").click().run()

    assert _title(at) == ["Kaimen"]
    assert navigation[-1].titles == ["Sign in", "Sign up"]
    _unreachable(at, "team")


# --- a fresh server, before any run has called st.navigation ---------------------------
# Streamlit then serves files of the pages/ folder by URL without the entry file (see
# the ``settled_server`` fixture); every page must send such a run back through Home.py.


@pytest.mark.parametrize("page", [p for p in ALL_PAGES if p not in ("sign_in", "sign_up")])
def test_on_a_fresh_server_a_page_opened_by_url_while_signed_out_shows_the_sign_in_page(fresh_server_app, page):
    make_business()
    at = fresh_server_app()

    at.switch_page(f"pages/{page}.py").run()

    assert _title(at) == ["Kaimen"]
    assert [w.key for w in at.text_input] == ["login_username", "login_password"]
    assert not at.metric
    assert not at.dataframe


@pytest.mark.parametrize("page", ["team", "settings", "businesses"])
def test_on_a_fresh_server_staff_opening_a_page_by_url_land_on_their_home(fresh_server_app, page):
    tenant = make_business("Harbour Salon")
    _, cookie = make_staff(tenant)
    at = fresh_server_app(cookie=cookie)

    at.switch_page(f"pages/{page}.py").run()

    assert _title(at) == ["Harbour Salon"]
    assert not at.error
