"""The Team page: owners add and remove staff."""

from __future__ import annotations

import pytest
from sqlmodel import col, func, select

from kaimen_core import auth, db
from kaimen_core.exceptions import SessionInvalid
from kaimen_core.models import User
from tests.factories import PASSWORD, make_business, make_staff
from tests.menus import STAFF_MENU, titles
from tests.pages.markdown import shown

STAFF_PASSWORD = "first day password"


def _active_users(business_id: int) -> int:
    with db.system_session() as session:
        return session.exec(
            select(func.count()).select_from(User).where(User.business_id == business_id,
                                                         col(User.removed_at).is_(None))
        ).one()


@pytest.fixture
def team_page(signed_in):
    """An owner's tab on the Team page."""

    def open_page(tenant):
        at = signed_in(tenant.username).switch_page("pages/team.py").run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Team"]
        return at

    return open_page


def _fill_staff_form(at, *, name="Mia Lopez", username="mia", email="mia@example.com", password=STAFF_PASSWORD):
    at.text_input(key="staff_name").input(name)
    at.text_input(key="staff_username").input(username)
    at.text_input(key="staff_email").input(email)
    at.text_input(key="staff_password").input(password)


def _table(at) -> list[dict]:
    [table] = at.dataframe
    return table.value.to_dict("records")


def test_the_team_table_lists_the_owner(team_page):
    tenant = make_business()

    at = team_page(tenant)

    [owner] = _table(at)
    assert (owner["Username"], owner["Role"], owner["Email"]) == (tenant.username, "owner",
                                                                  f"{tenant.username}@example.com")
    # Nobody to remove but the owner themself, so no removal form.
    assert "remove_choice" not in [s.key for s in at.selectbox]


def test_an_owner_adds_a_staff_member_who_can_then_sign_in(team_page, press, signed_in, navigation):
    tenant = make_business("Harbour Salon")
    at = team_page(tenant)

    _fill_staff_form(at, username="  Mia ")
    press(at, "Add staff member")

    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == ["Added mia. They can sign in now."]
    assert sorted((u["Username"], u["Name"], u["Role"]) for u in _table(at)) == [
        ("mia", "Mia Lopez", "staff"),
        (tenant.username, tenant.owner.display_name, "owner"),
    ]

    staff_tab = signed_in("mia", STAFF_PASSWORD)
    assert [t.value for t in staff_tab.title] == ["Harbour Salon"]
    assert [c.value for c in staff_tab.sidebar.caption] == ["Staff · mia"]
    assert navigation[-1].titles == titles(STAFF_MENU)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Name is required."),
        ("username", "a", "Username must be 3–32 characters: letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit."),
        ("email", "not-an-email", "'not-an-email' is not a valid email address."),
        ("password", "too short", "Password must be at least 12 characters."),
        ("username", "{owner}", "The username '{owner}' is already taken."),
        ("email", "{owner}@example.com", "An account with that email already exists."),
    ],
    ids=["no-name", "bad-username", "bad-email", "short-password", "taken-username", "taken-email"],
)
def test_bad_staff_details_show_an_error_and_add_nobody(team_page, press, field, value, message):
    tenant = make_business()
    at = team_page(tenant)

    _fill_staff_form(at, **{field: value.format(owner=tenant.username)})
    press(at, "Add staff member")

    assert not at.exception
    assert [shown(e.value) for e in at.error] == [message.format(owner=tenant.username)]  # as the owner reads it
    assert not at.success
    assert _active_users(tenant.business_id) == 1
    assert len(_table(at)) == 1


def test_a_username_taken_in_another_business_is_refused_too(team_page, press):
    other = make_business()
    tenant = make_business()
    at = team_page(tenant)

    _fill_staff_form(at, username=other.username)
    press(at, "Add staff member")

    assert [e.value for e in at.error] == [f"The username '{other.username}' is already taken."]
    assert _active_users(tenant.business_id) == 1


def test_removing_someone_needs_the_box_ticked(team_page, press):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    at = team_page(tenant)

    assert at.selectbox(key="remove_choice").value.username == staff.username
    press(at, "Remove")

    assert not at.exception
    assert [e.value for e in at.error] == ["Tick the box to confirm the removal."]
    assert _active_users(tenant.business_id) == 2
    assert auth.resolve_session(cookie=staff_cookie).user_id == staff.user_id


def test_an_owner_removes_a_staff_member_who_is_signed_out_at_once(team_page, press, app):
    tenant = make_business()
    cookies = dict(make_staff(tenant) for _ in range(2))
    at = team_page(tenant)
    # Remove the one not selected at first, so the choice in the form is what counts.
    kept = at.selectbox(key="remove_choice").value
    with db.tenant_session(tenant.owner) as session:
        [removed] = [u for u in auth.list_users(session, actor=tenant.owner)
                     if u.role == "staff" and u.id != kept.id]
    [removed_cookie] = [cookie for actor, cookie in cookies.items() if actor.user_id == removed.id]
    [kept_cookie] = [cookie for actor, cookie in cookies.items() if actor.user_id == kept.id]
    removed_tab = app(cookie=removed_cookie).run()
    assert [b.key for b in removed_tab.sidebar.button] == ["Logout"]

    at.selectbox(key="remove_choice").select(removed)
    at.checkbox(key="remove_confirm").check()
    press(at, "Remove")

    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == [f"Removed {removed.username}."]
    assert sorted(u["Username"] for u in _table(at)) == sorted([tenant.username, kept.username])
    assert len(at.selectbox(key="remove_choice").options) == 1
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=removed_cookie)
    assert auth.resolve_session(cookie=kept_cookie).user_id == kept.id
    removed_tab.run()
    assert [t.value for t in removed_tab.title] == ["Kaimen"]
    assert [i.value for i in removed_tab.info] == ["This account has been removed."]


def test_a_removed_staff_member_cannot_sign_in(team_page, press, app, sign_in):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    at = team_page(tenant)
    at.checkbox(key="remove_confirm").check()
    press(at, "Remove")
    assert not at.error

    tab = sign_in(app().run(), staff.username, PASSWORD)

    assert [e.value for e in tab.error] == ["Username or password is incorrect."]
