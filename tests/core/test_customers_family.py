"""The customer family (kaimen_core.models.customers): the form and the CSV import read
the same fields and refuse the same things in the same words."""

from __future__ import annotations

import csv
import io

import pytest

from kaimen_core import customers, db
from kaimen_core.exceptions import ValidationError
from tests.factories import make_business

REFUSED = [  # (field as typed, value) the customer family refuses
    ("name", ""), ("name", "x" * 201), ("name", "Ana\x07"), ("phone", "555-01"), ("phone", "call me"),
    ("email", "not-an-email"), ("notes", "n" * 5001), ("notes", "bell\x07"), ("tags", "t" * 41),
    ("tags", ";".join(f"t{i}" for i in range(21))), ("preferred_language", "english"),
    ("preferred_language", "abc-abcdefgh-abcdefgh"), ("time_zone", "Mars/Olympus"),
]


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_the_form_and_the_import_refuse_the_same_things_in_the_same_words(database, field, value):
    tenant = make_business()
    typed = {"name": "Ana", "phone": "2125550134", field: value}
    with db.tenant_session(tenant.owner) as session, pytest.raises(ValidationError) as refused:
        customers.create_customer(session, actor=tenant.owner, **typed)
    assert refused.value.field == field
    columns = list(typed)
    line = io.StringIO()
    csv.writer(line).writerows([columns, [typed[c] for c in columns]])
    with db.tenant_session(tenant.owner) as session:
        report = customers.import_customers(session, actor=tenant.owner, data=line.getvalue().encode(),
                                            mapping={c: c for c in columns}, dry_run=True)
    assert [(i.line, i.column, i.reason) for i in report.issues] == [(2, field, str(refused.value))]


def test_an_import_column_can_hold_every_form_field_and_nothing_else_is_a_customer_field(database):
    typed = list(customers.CustomerCreate.inputs())
    assert typed == ["name", "phone", "email", "notes", "tags", "preferred_language", "time_zone"]
    assert list(customers.FIELD_LABELS)[:len(typed)] == typed
    tenant = make_business()
    with db.tenant_session(tenant.owner) as session, pytest.raises(TypeError, match="nickname"):
        customers.create_customer(session, actor=tenant.owner, name="Ana", nickname="Annie")
