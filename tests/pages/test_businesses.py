"""The Businesses page: operators list businesses and act on them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kaimen_core import auth, db, tenancy
from kaimen_core.exceptions import SessionInvalid
from kaimen_core.models import Business, EnforcementAction
from tests.factories import make_business, make_operator, make_staff

SUSPENDED = "This business's Kaimen account is suspended. Contact Kaimen support."


@pytest.fixture
def operator_page(signed_in):
    """An operator's tab on the Businesses page, and the operator."""
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/businesses.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Businesses"]
    return at, operator


def _rows(at) -> list[dict]:
    assert not at.exception
    return at.dataframe[0].value.to_dict("records")


def _stored(business_id: int) -> tuple[Business, list[EnforcementAction]]:
    with db.system_session() as session:
        actions = session.exec(select(EnforcementAction).where(EnforcementAction.business_id == business_id)).all()
        return session.get(Business, business_id), actions


def _choose(at, operator, business_id: int, action: str, reason: str) -> None:
    with db.tenant_session(operator) as session:
        [row] = [r for r in tenancy.list_businesses(session, actor=operator) if r.id == business_id]
    at.selectbox(key="enforce_business").select(row)
    at.selectbox(key="enforce_action").select(action)
    at.text_area(key="enforce_reason").input(reason)


def test_the_list_shows_every_business(signed_in):
    first = make_business("Harbour Salon")
    make_staff(first)
    second = make_business("Fern Street Barbers")
    operator, _ = make_operator()

    at = signed_in(operator.username).switch_page("pages/businesses.py").run()

    rows = {r["Id"]: r for r in _rows(at)}
    assert set(rows) == {first.business_id, second.business_id}
    assert (rows[first.business_id]["Name"], rows[first.business_id]["Status"],
            rows[first.business_id]["Users"]) == ("Harbour Salon", "active", 2)
    assert (rows[second.business_id]["Name"], rows[second.business_id]["Slug"],
            rows[second.business_id]["Users"]) == ("Fern Street Barbers", "fern-street-barbers", 1)

    at.text_input(key="biz_search").input("fern").run()
    assert [r["Id"] for r in _rows(at)] == [second.business_id]
    at.text_input(key="biz_search").input("no such place").run()
    assert [i.value for i in at.info] == ["No businesses match."]


def test_suspending_a_business_with_a_reason_signs_its_owner_out(operator_page, press, app):
    tenant = make_business("Harbour Salon")
    bystander = make_business("Fern Street Barbers")
    owner_tab = app(cookie=tenant.owner_cookie).run()
    assert [t.value for t in owner_tab.title] == ["Harbour Salon"]
    at, operator = operator_page
    at.run()

    _choose(at, operator, tenant.business_id, "suspend", "Repeated spam complaints")
    press(at, "Apply")

    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == ["Suspend (signs everyone out): done for Harbour Salon."]
    statuses = {r["Id"]: r["Status"] for r in _rows(at)}
    assert statuses == {tenant.business_id: "suspended", bystander.business_id: "active"}
    business, [record] = _stored(tenant.business_id)
    assert (business.status, record.action, record.reason) == ("suspended", "suspend", "Repeated spam complaints")

    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=tenant.owner_cookie)
    owner_tab.run()
    assert [t.value for t in owner_tab.title] == ["Kaimen"]
    assert [i.value for i in owner_tab.info] == [SUSPENDED]
    # The other business is untouched.
    assert auth.resolve_session(cookie=bystander.owner_cookie).business_id == bystander.business_id


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Reason is required."), ("   ", "Reason is required."), ("spam", "Give a reason of at least 5 characters.")],
)
def test_an_action_without_a_real_reason_is_refused(operator_page, press, reason, message):
    tenant = make_business("Harbour Salon")
    at, operator = operator_page
    at.run()

    _choose(at, operator, tenant.business_id, "suspend", reason)
    press(at, "Apply")

    assert not at.exception
    assert [e.value for e in at.error] == [message]
    assert not at.success
    business, actions = _stored(tenant.business_id)
    assert (business.status, actions) == ("active", [])
    assert auth.resolve_session(cookie=tenant.owner_cookie).business_id == tenant.business_id


def test_an_action_that_does_not_fit_the_status_is_refused(operator_page, press):
    tenant = make_business("Harbour Salon")
    at, operator = operator_page
    at.run()

    _choose(at, operator, tenant.business_id, "reinstate", "Nothing to reinstate")
    press(at, "Apply")

    assert [e.value for e in at.error] == ["Cannot reinstate a business that is active."]
    assert _stored(tenant.business_id)[0].status == "active"
