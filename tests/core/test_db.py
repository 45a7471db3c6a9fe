"""Sessions and tenant scope (kaimen_core.db): one commit per unit of work, nothing on error."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from kaimen_core import db
from kaimen_core.actors import SYSTEM
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import Business, Customer
from tests.factories import count, make_business, make_operator


def test_a_unit_of_work_commits_once_or_not_at_all(database):
    tenant = make_business()
    with db.tenant_session(tenant.owner) as session:
        session.add(Customer(business_id=tenant.business_id, name="Kept"))
    with pytest.raises(ValidationError):
        with db.tenant_session(tenant.owner) as session:
            session.add(Customer(business_id=tenant.business_id, name="Half-done"))
            session.flush()
            raise ValidationError("the second step failed")
    assert [c.name for c in _customers()] == ["Kept"]


def _customers() -> list[Customer]:
    with db.system_session() as session:
        return list(session.exec(select(Customer)).all())


def test_the_system_actor_cannot_open_a_tenant_session(database):
    with pytest.raises(PermissionDenied, match="system_session"):
        with db.tenant_session(SYSTEM):
            pass


def test_only_operators_can_open_the_cross_business_scope(database):
    tenant = make_business()
    with pytest.raises(PermissionDenied):
        with db.tenant_session(tenant.owner) as session:
            db.enter_operator_scope(session, tenant.owner)
    with db.tenant_session(tenant.owner) as session:
        assert db.scope_of(session) == db.TenantScope(business_id=tenant.business_id)


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_an_operator_session_sees_no_business_until_the_scope_is_opened(database):
    make_business()
    make_business()
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        assert session.exec(select(func.count()).select_from(Business)).one() == 0
        db.enter_operator_scope(session, operator)
        assert session.exec(select(func.count()).select_from(Business)).one() == 2
    assert count(Business) == 2
