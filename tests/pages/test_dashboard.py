"""Home: a business's figures for owners and staff, the platform's for operators."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlmodel import select

from kaimen_core import db, tenancy
from kaimen_core.models import EnforcementAction
from tests.factories import PASSWORD, make_business, make_operator, make_records, make_staff

BUSINESS_METRICS = ["Customers", "Upcoming bookings", "Texts, last 30 days", "Open privacy requests"]


def _metrics(at) -> dict[str, str]:
    assert not at.exception
    return {m.label: m.value for m in at.metric}


def test_an_owner_sees_their_counts_warnings_and_recent_activity(signed_in):
    tenant = make_business("Harbour Salon")
    make_records(tenant)
    make_records(make_business("Fern Street Barbers"))  # another business's rows are not counted

    at = signed_in(tenant.username)

    assert [t.value for t in at.title] == ["Harbour Salon"]
    assert _metrics(at) == dict.fromkeys(BUSINESS_METRICS, "1")
    with db.system_session() as session:
        [warned] = session.exec(select(EnforcementAction.created_at).where(
            EnforcementAction.business_id == tenant.business_id)).all()
    local = warned.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")
    assert [w.value for w in at.warning] == [
        f"Warning from Kaimen ({local}): warning for business {tenant.business_id}"
    ]
    assert [s.value for s in at.subheader] == ["Bookings", "Recent activity"]  # Bookings: the charts (issue 4)
    activity = at.dataframe[0].value.to_dict("records")
    assert {"business.signed_up", "auth.sign_in"} <= {row["What"] for row in activity}
    assert {row["Who"] for row in activity} == {f"owner:{tenant.username}"}


def test_an_owner_of_a_new_business_sees_zeros_and_no_warning(signed_in):
    tenant = make_business("Harbour Salon")

    at = signed_in(tenant.username)

    assert _metrics(at) == dict.fromkeys(BUSINESS_METRICS, "0")
    assert not at.warning


def test_staff_see_the_counts_but_not_the_activity_or_warnings(signed_in):
    tenant = make_business("Harbour Salon")
    make_records(tenant)
    staff, _ = make_staff(tenant)

    at = signed_in(staff.username)

    assert [t.value for t in at.title] == ["Harbour Salon"]
    assert _metrics(at) == dict.fromkeys(BUSINESS_METRICS, "1")
    assert "Recent activity" not in [s.value for s in at.subheader]
    assert not at.dataframe
    assert not at.warning


def test_an_operator_sees_the_platform_overview(signed_in, app, sign_in):
    make_business("Harbour Salon")
    suspended = make_business("Fern Street Barbers")
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=suspended.business_id, action="suspend",
                        reason="Repeated spam complaints")
    assert sign_in(app().run(), "nobody-here", PASSWORD).error

    at = signed_in(operator.username)

    assert [t.value for t in at.title] == ["Platform overview"]
    assert _metrics(at) == {
        "Active businesses": "1",
        "Suspended": "1",
        "Terminated": "0",
        "Users": "3",
        "Failed sign-ins (24 h)": "1",
    }
    assert [s.value for s in at.subheader] == ["Recent system events"]
    actions = {row["What"] for row in at.dataframe[0].value.to_dict("records")}
    assert {"enforcement.suspend", "auth.sign_in_failed", "business.signed_up"} <= actions
