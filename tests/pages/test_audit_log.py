"""The audit log: owners see their own business's events, operators every business's."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, make_business, make_operator

WRONG_GUESS = "hunter2 wrong guess"
NEW_PASSWORD = "a brand new passphrase"
SECRETS = [PASSWORD, WRONG_GUESS, NEW_PASSWORD]


@pytest.fixture
def two_businesses(app, sign_in, press):
    """Two businesses whose owners signed in through the form; the first one also typed a
    wrong password once and changed their password."""
    first, second = make_business("Harbour Salon"), make_business("Fern Street Barbers")
    for tenant in (first, second):
        assert not sign_in(app().run(), tenant.username, PASSWORD).error
    assert sign_in(app().run(), first.username, WRONG_GUESS).error
    at = sign_in(app().run(), first.username, PASSWORD).switch_page("pages/account.py").run()
    at.text_input(key="current_password").input(PASSWORD)
    at.text_input(key="new_password").input(NEW_PASSWORD)
    at.text_input(key="confirm_new_password").input(NEW_PASSWORD)
    assert press(at, "Change password").success
    return first, second


def _events(at) -> list[dict]:
    assert not at.exception
    [table] = at.dataframe
    return table.value.to_dict("records")


def _assert_no_secret(at) -> None:
    shown = at.dataframe[0].value.to_csv()
    for secret in SECRETS:
        assert secret not in shown
        assert secret not in repr(at.main)


def test_an_owner_sees_the_events_of_their_own_business_only(two_businesses, signed_in):
    first, second = two_businesses
    at = signed_in(first.username, NEW_PASSWORD).switch_page("pages/audit_log.py").run()

    assert [t.value for t in at.title] == ["Audit log"]
    events = _events(at)
    assert list(events[0]) == ["When (UTC)", "Who", "Action", "Target", "Detail", "IP", "Browser"]
    assert {e["Who"] for e in events} == {f"owner:{first.username}"}
    assert [e["Action"] for e in events].count("auth.sign_in") == 3
    assert {"business.signed_up", "auth.sign_in_failed", "auth.password_changed"} <= {e["Action"] for e in events}
    assert second.username not in at.dataframe[0].value.to_csv()
    _assert_no_secret(at)


def test_an_owner_can_filter_by_action(two_businesses, signed_in):
    first, _ = two_businesses
    at = signed_in(first.username, NEW_PASSWORD).switch_page("pages/audit_log.py").run()

    at.text_input(key="audit_action").input("auth.sign_in_failed").run()

    assert [(e["Who"], e["Action"]) for e in _events(at)] == [(f"owner:{first.username}", "auth.sign_in_failed")]
    at.text_input(key="audit_action").input("nothing.like.this").run()
    assert not at.dataframe
    assert [i.value for i in at.info] == ["No events match."]


def test_an_operator_sees_the_events_of_every_business(two_businesses, signed_in):
    first, second = two_businesses
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/audit_log.py").run()

    assert [t.value for t in at.title] == ["System events"]
    events = _events(at)
    assert "Business" in events[0]
    signed_in_by = {(e["Business"], e["Who"]) for e in events if e["Action"] == "auth.sign_in"}
    assert {(first.business_id, f"owner:{first.username}"), (second.business_id, f"owner:{second.username}")} \
        <= signed_in_by
    _assert_no_secret(at)

    at.text_input(key="audit_business").input(str(second.business_id)).run()
    events = _events(at)
    assert {e["Business"] for e in events} == {second.business_id}
    # Besides the owner's own events, the operator's look at the business is on its record.
    assert {e["Who"] for e in events} == {f"owner:{second.username}", f"operator:{operator.username}"}
    assert {e["Action"] for e in events if e["Who"].startswith("operator:")} == {"operator.access"}


@pytest.mark.parametrize(("typed", "message"), [("abc", "Business id must be a number."),
                                                ("²", "Business id must be a number."),  # int("²") fails
                                                ("9" * 30, "Business id must be a number."),  # past 64 bits
                                                ("999999", "No such business.")])
def test_an_operator_filtering_by_a_bad_business_id_sees_an_error(signed_in, typed, message):
    make_business()
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/audit_log.py").run()

    at.text_input(key="audit_business").input(typed).run()

    assert not at.exception
    assert [e.value for e in at.error] == [message]
    assert not at.dataframe
