"""Confirmations and reminders from the owner's templates; none for a moved or cancelled booking's old time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kaimen_core import db, messaging
from kaimen_core.exceptions import NotFound, ValidationError
from kaimen_core.models import Booking, Message, ReminderRecord, Service, StaffMember
from tests.factories import count, make_staff, rows
from tests.fakes.messaging import at, customer, texting_business

NOW = at("2026-11-27 15:00")  # 10:00 in New York


def booking(tenant, cid, start):
    with db.system_session() as session:
        staff = StaffMember(business_id=tenant.business_id, name="Ana Ruiz")
        service = Service(business_id=tenant.business_id, name="Cut & colour", duration_minutes=60)
        session.add_all([staff, service])
        session.flush()
        row = Booking(business_id=tenant.business_id, customer_id=cid, staff_id=staff.id, service_id=service.id,
                      start_at=start, end_at=start + timedelta(hours=1))
        session.add(row)
        session.flush()
        return row.id


def sweep(now):
    with db.system_session() as session:
        return messaging.send_due_reminders(session, now=now)


def test_a_booking_change_sends_its_confirmation_from_the_owners_template(database):
    tenant, _ = texting_business()
    staff, _ = make_staff(tenant)
    cid = customer(tenant, name="Dana Reyes")
    bid = booking(tenant, cid, at("2026-11-28 19:30"))
    with db.tenant_session(tenant.owner) as session:
        messaging.update_messaging_settings(
            session, actor=tenant.owner, reminder_24h=True, reminder_2h=True,
            templates={"created": "{name}, see you {time} for {service} with {staff}!"})
    with db.tenant_session(staff) as session:
        sent = messaging.notify_booking_change(session, actor=staff, booking_id=bid, change="created", now=NOW)
    assert sent.kind == "transactional" and sent.status == "queued"
    assert sent.body == "Dana, see you Sat 28 Nov at 14:30 for Cut & colour with Ana Ruiz!"
    with db.tenant_session(tenant.owner) as session:
        cancelled = messaging.notify_booking_change(session, actor=tenant.owner, booking_id=bid, change="cancelled",
                                                    now=NOW)
    assert cancelled.body.startswith("Hi Dana, your Cut & colour on Sat 28 Nov at 14:30 is cancelled.")
    with pytest.raises(ValidationError):
        with db.tenant_session(tenant.owner) as session:
            messaging.notify_booking_change(session, actor=tenant.owner, booking_id=bid, change="lost")


def test_templates_refuse_unknown_placeholders(database):
    tenant, _ = texting_business()
    with pytest.raises(ValidationError, match=r"Unknown placeholder \{price\}"):
        with db.tenant_session(tenant.owner) as session:
            messaging.update_messaging_settings(session, actor=tenant.owner, reminder_24h=True, reminder_2h=False,
                                                templates={"reminder": "Bring {price}"})


def test_reminders_go_24_and_2_hours_before_once_each(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    start = at("2026-11-28 16:00")
    bid = booking(tenant, cid, start)
    with db.tenant_session(tenant.owner) as session:
        messaging.update_messaging_settings(session, actor=tenant.owner, reminder_24h=True, reminder_2h=True,
                                            templates={})
    assert sweep(start - timedelta(hours=25)) == 0
    assert sweep(start - timedelta(hours=24)) == 1
    assert sweep(start - timedelta(hours=23, minutes=30)) == 0  # already sent
    assert sweep(start - timedelta(hours=2)) == 1
    texts = rows(Message, Message.direction == "outbound")
    assert [m.body for m in texts] == ["Reminder: Cut & colour with Ana Ruiz on Sat 28 Nov at 11:00. - "
                                       + texts[0].body.split(" - ")[-1]] * 2
    assert {r.kind for r in rows(ReminderRecord, ReminderRecord.booking_id == bid)} == {"24h", "2h"}


def test_no_reminder_for_a_cancelled_booking_or_a_moved_bookings_old_time(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    old = at("2026-11-28 16:00")
    moved = booking(tenant, cid, old)
    cancelled = booking(tenant, cid, old + timedelta(hours=2))
    with db.system_session() as session:
        row = session.get(Booking, moved)
        row.start_at, row.end_at = old + timedelta(days=2), old + timedelta(days=2, hours=1)
        session.add(row)
        gone = session.get(Booking, cancelled)
        gone.status = "cancelled"
        session.add(gone)
    assert sweep(old - timedelta(hours=24)) == 0
    assert sweep(old + timedelta(hours=2) - timedelta(hours=24)) == 0
    assert sweep(old + timedelta(days=1)) == 1  # 24 hours before the new time
    (record,) = rows(ReminderRecord)
    assert record.start_at == old + timedelta(days=2)


def test_a_reminder_in_the_night_waits_for_the_recipients_morning(database):
    tenant, _ = texting_business()
    cid = customer(tenant)
    start = at("2026-11-29 12:00")  # 07:00 New York
    booking(tenant, cid, start)
    assert sweep(start - timedelta(hours=24)) == 1
    (text,) = rows(Message, Message.direction == "outbound")
    assert text.status == "held" and text.decision.startswith("held until Sat 08:00")


def test_another_businesss_booking_is_not_found(database):
    a, _ = texting_business()
    b, _ = texting_business()
    bid = booking(b, customer(b), NOW + timedelta(days=1))
    with pytest.raises(NotFound):
        with db.tenant_session(a.owner) as session:
            messaging.notify_booking_change(session, actor=a.owner, booking_id=bid, change="created")
    assert count(Message) == 0
