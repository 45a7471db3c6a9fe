"""The Home page's figures (kaimen_core.dashboard): a business's own, or the platform's for operators."""

from __future__ import annotations

import pytest

from kaimen_core import auth, dashboard, db, tenancy
from kaimen_core.exceptions import InvalidCredentials, PermissionDenied
from kaimen_core.models import AuditEvent
from tests.factories import ORIGIN, make_business, make_operator, make_records, make_staff, rows


def test_a_business_sees_its_own_figures_only(database):
    mine = make_business("Mine")
    make_staff(mine)
    make_records(mine)
    theirs = make_business("Theirs")
    make_staff(theirs)
    make_records(theirs)

    with db.tenant_session(mine.owner) as session:
        overview = dashboard.business_overview(session, actor=mine.owner)
    assert (overview.business_name, overview.time_zone) == ("Mine", "America/New_York")
    assert (overview.customers, overview.upcoming_bookings, overview.messages_last_30_days,
            overview.open_privacy_requests, overview.team) == (1, 1, 1, 1, 2)
    assert [w.reason for w in overview.warnings] == [f"warning for business {mine.business_id}"]
    assert overview.recent_activity
    assert {e.business_id for e in overview.recent_activity} == {mine.business_id}


def test_staff_see_the_figures_but_not_the_activity_or_warnings(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    make_records(tenant)
    with db.tenant_session(staff) as session:
        overview = dashboard.business_overview(session, actor=staff)
    assert (overview.customers, overview.team) == (1, 2)
    assert overview.warnings == [] and overview.recent_activity == []


def test_operators_see_the_platform_and_their_look_is_audited(database):
    active = make_business()
    suspended = make_business()
    operator, _ = make_operator()
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=active.username, password="wrong password!", origin=ORIGIN)
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=suspended.business_id, action="suspend",
                        reason="Fraudulent bookings")
    with db.tenant_session(operator) as session:
        platform = dashboard.platform_overview(session, actor=operator)
    assert platform.businesses_by_status == {"active": 1, "suspended": 1, "terminated": 0}
    assert platform.users == 3  # two owners and the operator
    assert platform.active_sessions == 2  # the active owner's and the operator's; the suspended one's were revoked
    assert platform.failed_sign_ins_24h == 1
    assert {e.business_id for e in platform.recent_activity} >= {active.business_id, suspended.business_id}
    assert [e.target_type for e in rows(AuditEvent, AuditEvent.action == "operator.access")].count(
        "platform_overview") == 1

    with pytest.raises(PermissionDenied):
        with db.tenant_session(operator) as session:
            dashboard.business_overview(session, actor=operator)
