"""What a person sees when something goes wrong (issue 14, item 5): a message saying what
to change, or a notice with a reference; never a traceback, SQL or its parameters.

A NUL typed into a search used to reach the database: on PostgreSQL psycopg refused it
inside the driver, and the page showed the exception with the statement, its parameters
and file paths. kaimen_core now refuses control characters where text enters
(tests/core/test_validators.py); an error nobody expected is logged masked
(``ui.failures_logged``), and Streamlit is set to show no error details
(tests/pages/test_config.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError

from kaimen_core import customers, messaging
from tests.factories import make_business
from tests.fakes.messaging import customer, texting_business

REFUSED = "Search must not contain control characters."


def test_a_nul_in_the_customer_search_says_what_is_wrong(signed_in, press):
    tenant = make_business()
    at = signed_in(tenant.username).switch_page("pages/customers.py").run()
    at.text_input(key="customer_search").input("Dana\x00Reyes")
    at = press(at, "Search")
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [REFUSED]


def test_a_nul_in_the_inbox_search_says_what_is_wrong(signed_in):
    tenant, _ = texting_business()
    customer(tenant, name="Dana Reyes")
    at = signed_in(tenant.username).switch_page("pages/inbox.py").run()
    at.text_input(key="inbox_search").input("Dana\x00").run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [REFUSED]


def _driver_error(*args, **kwargs):
    """What a query with a NUL raised on PostgreSQL: SQLAlchemy's error quotes the parameters."""
    raise DataError("SELECT customers.name FROM customers WHERE lower(customers.name) LIKE %(pattern)s",
                    {"pattern": "%dana reyes +12125550123\x00%"},
                    ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))


@pytest.mark.parametrize(("page", "function"), [
    ("pages/customers.py", (customers, "search_customers")),
    ("pages/inbox.py", (messaging, "list_conversations")),  # in a fragment, which reruns on its own
])
def test_an_unexpected_error_is_logged_masked_and_the_person_sees_a_reference(
        signed_in, page_failures, monkeypatch, page, function):
    tenant, _ = texting_business()
    at = signed_in(tenant.username)
    monkeypatch.setattr(*function, _driver_error)
    at = at.switch_page(page).run()
    assert not at.exception, at.exception
    [notice] = [e.value for e in at.error]
    assert notice.startswith("Something went wrong on this page and it was logged (reference ")
    assert "SELECT" not in notice and "dana" not in notice.lower()
    [record] = page_failures
    page_failures.clear()
    logged = record.getMessage()
    reference = logged.split("(reference ")[1].split(")")[0]
    assert f"(reference {reference})" in notice
    assert "ValueError: PostgreSQL text fields cannot contain NUL (0x00) bytes" in logged
    assert "in _driver_error" in logged  # where it happened
    assert "dana" not in logged.lower() and "12125550123" not in logged and "SELECT" not in logged
