"""The audit log (kaimen_core.audit): who sees which events, and what an event may hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from kaimen_core import audit, auth, db, tenancy
from kaimen_core.exceptions import NotFound, PermissionDenied
from kaimen_core.models import AuditEvent, utcnow
from tests.factories import ORIGIN, PASSWORD, count, make_business, make_operator, make_staff, rows


def _list(actor, **filters):
    with db.tenant_session(actor) as session:
        return audit.list_events(session, actor=actor, **filters)


def _operator_accesses(**where):
    found = rows(AuditEvent, AuditEvent.action == "operator.access")
    return [e for e in found if all(getattr(e, k) == v for k, v in where.items())]


def test_owners_see_only_their_own_business_s_events(database):
    mine, theirs = make_business(), make_business()
    make_staff(mine)
    make_staff(theirs)
    auth.sign_in(username=theirs.username, password=PASSWORD, origin=ORIGIN)

    events = _list(mine.owner)
    assert {e.business_id for e in events} == {mine.business_id}
    assert [e.action for e in events] == ["auth.sign_in", "user.added", "business.signed_up"]  # newest first
    theirs_ids = {e.id for e in rows(AuditEvent, AuditEvent.business_id == theirs.business_id)}
    assert theirs_ids and not theirs_ids & {e.id for e in events}

    assert [e.action for e in _list(mine.owner, action="user.added")] == ["user.added"]
    assert _list(mine.owner, since=utcnow() + timedelta(minutes=1)) == []
    assert len(_list(mine.owner, limit=1)) == 1
    assert _list(mine.owner, business_id=mine.business_id) == events
    with pytest.raises(PermissionDenied):
        _list(mine.owner, business_id=theirs.business_id)


def test_staff_cannot_read_the_audit_log(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    with pytest.raises(PermissionDenied):
        _list(staff)


def test_operators_see_every_business_and_their_reading_is_audited(database):
    first, second = make_business(), make_business()
    operator, _ = make_operator()

    everything = _list(operator)
    assert {first.business_id, second.business_id} <= {e.business_id for e in everything}
    [access] = _operator_accesses(actor_user_id=operator.user_id)
    assert (access.target_type, access.business_id, access.actor_label) == (
        "audit_log", None, f"operator:{operator.username}")
    assert access.ip_address == ORIGIN.ip_address and access.user_agent == ORIGIN.user_agent
    assert access.id in {e.id for e in everything}  # the operator sees their own access too

    only_second = _list(operator, business_id=second.business_id)
    assert only_second and {e.business_id for e in only_second} == {second.business_id}
    # The owner of that business sees that an operator looked at it.
    assert "operator.access" in [e.action for e in _list(second.owner)]
    assert "operator.access" not in [e.action for e in _list(first.owner)]


def test_repeated_operator_access_is_recorded_once_per_ten_minutes(database):
    tenant = make_business()
    operator, _ = make_operator()
    other_operator, _ = make_operator()
    for _ in range(3):
        _list(operator)
        _list(operator, business_id=tenant.business_id)
    assert len(_operator_accesses(actor_user_id=operator.user_id, business_id=None)) == 1
    assert len(_operator_accesses(actor_user_id=operator.user_id, business_id=tenant.business_id)) == 1

    _list(other_operator)  # another operator's access is their own record
    assert len(_operator_accesses(actor_user_id=other_operator.user_id)) == 1
    with db.tenant_session(operator) as session:  # another purpose is another record
        tenancy.list_businesses(session, actor=operator)
    assert len(_operator_accesses(actor_user_id=operator.user_id, target_type="businesses")) == 1

    with db.system_session() as session:  # eleven minutes pass
        for event in session.exec(select(AuditEvent).where(AuditEvent.action == "operator.access")).all():
            event.created_at = event.created_at - timedelta(minutes=11)
            session.add(event)
    _list(operator)
    assert len(_operator_accesses(actor_user_id=operator.user_id, business_id=None, target_type="audit_log")) == 2


def test_an_operator_naming_an_unknown_business_gets_not_found(database):
    operator, _ = make_operator()
    with pytest.raises(NotFound):
        _list(operator, business_id=999_999)
    assert _operator_accesses() == []


@pytest.mark.parametrize(
    ("detail", "error"),
    [
        ({"customer": {"name": "Ava Martinez"}}, TypeError),
        ({"numbers": ["+12125550100"]}, TypeError),
        ({"when": utcnow()}, TypeError),
        ({"message": "Hi Ava, your appointment is confirmed for Tuesday at 3pm. Reply C to confirm it please."},
         ValueError),
    ],
    ids=["dict", "list", "datetime", "long-text"],
)
def test_record_refuses_anything_but_short_scalars(database, detail, error):
    tenant = make_business()
    before = count(AuditEvent)
    with pytest.raises(error):
        with db.tenant_session(tenant.owner) as session:
            audit.record(session, actor=tenant.owner, action="customer.updated", detail=detail)
    assert count(AuditEvent) == before


def test_record_keeps_short_scalars_and_the_origin(database):
    tenant = make_business()
    detail = {"count": 3, "ratio": 0.5, "ok": True, "reason": "x" * 80, "none": None}
    with db.tenant_session(tenant.owner) as session:
        audit.record(session, actor=tenant.owner, action="customers.imported", target_type="import", target_id=7,
                     detail=detail)
    [event] = rows(AuditEvent, AuditEvent.action == "customers.imported")
    assert event.detail == detail
    assert (event.business_id, event.target_id, event.actor_user_id) == (tenant.business_id, "7", tenant.owner.user_id)
    origin = tenant.owner.origin  # the sign-in the owner acts under
    assert origin.ip_address and (event.ip_address, event.user_agent) == (origin.ip_address, origin.user_agent)
