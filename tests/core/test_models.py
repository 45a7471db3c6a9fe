"""The tables as a whole: every row belongs to a business, or is declared as the platform's."""

from __future__ import annotations

from sqlalchemy import inspect

from kaimen_core.models import PLATFORM_ROWS


def test_every_table_that_can_hold_rows_of_no_business_says_what_they_hold(database):
    schema = inspect(database.owner)
    undeclared, stale = [], sorted(set(PLATFORM_ROWS) - set(schema.get_table_names()))
    for table in schema.get_table_names():
        business = {c["name"]: c for c in schema.get_columns(table)}.get("business_id")
        owned_by_a_business = table == "businesses" or (business is not None and not business["nullable"])
        if owned_by_a_business:
            assert table not in PLATFORM_ROWS, f"{table}: every row has a business; it has no platform rows"
        elif table not in PLATFORM_ROWS:
            undeclared.append(table)
    assert not undeclared, (
        f"{undeclared} can hold rows that no business owns (no business_id, or a NULL one). Declare in "
        "kaimen_core/models/platform.py what they hold, and whether some of them concern a business: until then "
        "no business's erasure reads them.")
    assert not stale, f"PLATFORM_ROWS names tables that do not exist: {stale}"

