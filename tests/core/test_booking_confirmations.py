"""A booking created, moved or cancelled sends the customer a confirmation through the send path."""

from __future__ import annotations

from kaimen_core import bookings, db
from kaimen_core.models import BookingEvent, Business, Customer, Message
from tests.core.bookings_helpers import future_day, make_salon
from tests.factories import rows


def test_created_moved_and_cancelled_bookings_each_queue_one_confirmation(database):
    salon = make_salon()
    with db.system_session() as session:
        business = session.get(Business, salon.tenant.business_id)
        business.messaging_number = "+12125550999"
        session.add(business)
        customer = Customer(business_id=salon.tenant.business_id, name="Ava Chen", phone_e164="+12125550123")
        session.add(customer)
        session.flush()
        customer_id = customer.id
    day = future_day()
    with db.tenant_session(salon.owner) as session:
        booking = bookings.create_booking(session, actor=salon.owner, staff_id=salon.sam_id,
                                          service_id=salon.service_id, start_at=salon.at(day, 10),
                                          customer_id=customer_id)
    with db.tenant_session(salon.owner) as session:
        bookings.reschedule_booking(session, actor=salon.owner, booking_id=booking.id, start_at=salon.at(day, 14))
    with db.tenant_session(salon.owner) as session:
        bookings.cancel_booking(session, actor=salon.owner, booking_id=booking.id)

    texts = rows(Message, Message.customer_id == customer_id)
    assert [t.kind for t in texts] == ["transactional"] * 3
    assert all(t.direction == "outbound" and t.status in ("queued", "held") for t in texts), texts
    assert "moved" in texts[1].body.lower() or "changed" in texts[1].body.lower() or "2:00" in texts[1].body
    assert {e.kind: e.processed_at is not None for e in rows(BookingEvent)} == {
        "created": True, "moved": True, "cancelled": True}


def test_a_booking_without_a_customer_sends_nothing(database):  # a walk-in
    salon = make_salon()
    salon.book(future_day(), 11)
    assert rows(Message) == []
