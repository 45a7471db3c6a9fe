"""Retention: periods an owner sets, and the purge that honours them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kaimen_core import db, retention
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, Customer, Message, NetworkAttempt, PrivacyRequest, WebhookEvent, utcnow
from tests.factories import count, make_business, make_staff, rows


def _old_and_new(tenant, *, days_old: int) -> None:
    b, now = tenant.business_id, utcnow()
    old = now - timedelta(days=days_old)
    with db.system_session() as session:
        customer = Customer(business_id=b, name="Ava", phone_e164="+12125550123")
        session.add(customer)
        session.flush()
        session.add_all([
            Message(business_id=b, customer_id=customer.id, direction="inbound", status="received", body="old",
                    created_at=old, updated_at=old),
            Message(business_id=b, customer_id=customer.id, direction="inbound", status="received", body="new"),
            WebhookEvent(provider="twilio", event_id=f"SMold{b}", business_id=b, kind="sms.inbound", received_at=old),
            WebhookEvent(provider="twilio", event_id=f"SMnew{b}", business_id=b, kind="sms.inbound"),
            AuditEvent(business_id=b, actor_label="system", action="test.old", created_at=old),
            PrivacyRequest(business_id=b, kind="access", regime="gdpr", channel="email", status="completed",
                           received_at=old, due_at=old + timedelta(days=30)),
            PrivacyRequest(business_id=b, kind="access", regime="gdpr", channel="email", status="received",
                           received_at=old, due_at=old + timedelta(days=30)),
        ])


def test_defaults_and_changes_within_limits(database):
    tenant = make_business()
    with db.tenant_session(tenant.owner) as session:
        assert retention.get_periods(session, actor=tenant.owner) == retention.RetentionPeriods(24, 30, 12, 24)
    with db.tenant_session(tenant.owner) as session, pytest.raises(ValidationError, match="Requests must be kept"):
        retention.set_periods(session, actor=tenant.owner, periods=retention.RetentionPeriods(requests_months=6))
    with db.tenant_session(tenant.owner) as session:
        retention.set_periods(session, actor=tenant.owner, periods=retention.RetentionPeriods(messages_months=6))
    with db.tenant_session(tenant.owner) as session:
        assert retention.get_periods(session, actor=tenant.owner).messages_months == 6
    staff, _ = make_staff(tenant)
    with db.tenant_session(staff) as session, pytest.raises(PermissionDenied):
        retention.get_periods(session, actor=staff)


def test_the_purge_removes_only_what_expired_and_records_counts(database):
    keeps_long, keeps_short = make_business(), make_business()
    with db.tenant_session(keeps_short.owner) as session:
        retention.set_periods(session, actor=keeps_short.owner,
                              periods=retention.RetentionPeriods(messages_months=1, webhook_days=7, audit_months=6))
    _old_and_new(keeps_long, days_old=200)
    _old_and_new(keeps_short, days_old=200)

    with db.system_session() as session:
        removed = retention.purge_expired(session)

    assert removed[keeps_short.business_id] == {"messages": 1, "webhook_events": 1, "audit_events": 1,
                                                "privacy_requests": 0}
    assert removed[keeps_long.business_id] == {"messages": 0, "webhook_events": 1, "audit_events": 0,
                                               "privacy_requests": 0}
    assert [m.body for m in rows(Message, Message.business_id == keeps_short.business_id)] == ["new"]
    assert count(Message, Message.business_id == keeps_long.business_id) == 2
    assert count(PrivacyRequest) == 4  # request records are kept 24 months, open ones always
    [event] = rows(AuditEvent, AuditEvent.action == "retention.purged",
                   AuditEvent.business_id == keeps_short.business_id)
    assert event.detail["messages"] == 1


def test_closed_request_records_go_after_their_period_but_open_ones_stay(database):
    tenant = make_business()
    _old_and_new(tenant, days_old=800)
    with db.system_session() as session:
        retention.purge_expired(session)
    assert [r.status for r in rows(PrivacyRequest)] == ["received"]


def test_the_per_network_counts_go_after_a_day(database):
    now = utcnow()
    with db.system_session() as session:
        for age, network in ((timedelta(days=2), "old"), (timedelta(hours=23), "recent")):
            session.add(NetworkAttempt(action="sign_in", network_hash=network, created_at=now - age))
    with db.system_session() as session:
        removed = retention.purge_expired(session)
    assert removed[None]["network_attempts"] == 1
    assert [a.network_hash for a in rows(NetworkAttempt, NetworkAttempt.action == "sign_in")] == ["recent"]
