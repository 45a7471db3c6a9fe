"""Factories: businesses, owners, staff and operators made through kaimen_core itself."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import inspect, text
from sqlmodel import SQLModel, func, select

from kaimen_core import auth, db, tenancy
from kaimen_core.actors import Actor, Origin
from kaimen_core.models import (
    TENANT_TABLES,
    AuditEvent,
    Booking,
    Business,
    ConsentEvent,
    Customer,
    EnforcementAction,
    Job,
    Message,
    PrivacyRequest,
    Service,
    StaffMember,
    StaffService,
    SuppressionEntry,
    User,
    UserSession,
    WebhookEvent,
    utcnow,
)

PASSWORD = "correct horse battery"
ORIGIN = Origin(ip_address="127.0.0.1", user_agent="pytest")
_counter = itertools.count(1)


@dataclass
class Tenant:
    """A business with its owner (and the owner's sign-in cookie)."""

    business_id: int
    owner: Actor
    owner_cookie: str
    username: str


def _signing_up_from(n: int) -> Origin:
    """Each business signs up from a network of its own, so a test may make more businesses than one
    network may sign up in an hour (tests of that limit sign up from ORIGIN themselves)."""
    return Origin(ip_address=f"198.18.{n // 256 % 256}.{n % 256}", user_agent=ORIGIN.user_agent)


def make_business(name: str | None = None, *, time_zone: str = "America/New_York") -> Tenant:
    n = next(_counter)
    signed_in = tenancy.sign_up(
        business_name=name or f"Business {n}",
        owner_name=f"Owner {n}",
        email=f"owner{n}@example.com",  # the owner's username is made from it: owner<n>
        phone="+12125550100",
        region="US",
        time_zone=time_zone,
        password=PASSWORD,
        confirm_password=PASSWORD,
        origin=_signing_up_from(n),
    )
    return Tenant(signed_in.actor.business_id, signed_in.actor, signed_in.cookie, signed_in.actor.username)


def make_staff(tenant: Tenant) -> tuple[Actor, str]:
    """A staff user of ``tenant``, signed in; returns the actor and the cookie."""
    n = next(_counter)
    user = auth.add_staff_user(actor=tenant.owner, username=f"staff{n}", email=f"staff{n}@example.com",
                               display_name=f"Staff {n}", password=PASSWORD)
    signed_in = auth.sign_in(username=user.username, password=PASSWORD, origin=ORIGIN)
    return signed_in.actor, signed_in.cookie


def make_operator() -> tuple[Actor, str]:
    n = next(_counter)
    user = auth.create_operator(username=f"operator{n}", email=f"operator{n}@kaimen.example",
                                display_name=f"Operator {n}", password=PASSWORD)
    signed_in = auth.sign_in(username=user.username, password=PASSWORD, origin=ORIGIN)
    return signed_in.actor, signed_in.cookie


# --- one row in every tenant table ---------------------------------------------------


@dataclass
class Records:
    """Ids of one row of each kind a business holds (besides its users and sessions)."""

    business_id: int
    customer_id: int
    consent_event_id: int
    suppression_id: int
    staff_id: int
    service_id: int
    booking_id: int
    message_id: int
    job_id: int
    webhook_event_id: int
    privacy_request_id: int
    enforcement_id: int


def make_records(tenant: Tenant) -> Records:
    """A customer, booking, message, job, webhook event, privacy request... for ``tenant``.

    Written directly as rows (through a system session), since not every domain module
    that would create them exists yet; each carries the business's name so a leak is
    easy to spot.
    """
    b = tenant.business_id
    now = utcnow()
    with db.system_session() as session:
        customer = Customer(business_id=b, name=f"Customer of {b}", phone_e164=f"+1212555{b % 10000:04d}",
                            email=f"customer{b}@example.com", notes=f"notes of business {b}")
        staff = StaffMember(business_id=b, name=f"Stylist of {b}")
        service = Service(business_id=b, name=f"Cut at {b}", duration_minutes=30)
        session.add_all([customer, staff, service])
        session.flush()
        consent = ConsentEvent(business_id=b, customer_id=customer.id, kind="marketing", granted=True,
                               method="in_person")
        suppression = SuppressionEntry(business_id=b, phone_hash=f"{b:064d}", reason="opt_out")
        booking = Booking(business_id=b, customer_id=customer.id, staff_id=staff.id, service_id=service.id,
                          start_at=now + timedelta(days=1), end_at=now + timedelta(days=1, minutes=30))
        message = Message(business_id=b, customer_id=customer.id, direction="inbound", status="received",
                          body=f"secret message to business {b}")
        job = Job(business_id=b, kind="send_message", payload={"business": b})
        webhook = WebhookEvent(provider="twilio", event_id=f"SM{b:032d}", business_id=b, kind="message.inbound")
        privacy = PrivacyRequest(business_id=b, customer_id=customer.id, kind="access", regime="gdpr",
                                 channel="email", received_at=now, due_at=now + timedelta(days=30))
        enforcement = EnforcementAction(business_id=b, action="warn", reason=f"warning for business {b}")
        session.add_all([consent, suppression, booking, message, job, webhook, privacy, enforcement])
        session.add(StaffService(staff_id=staff.id, service_id=service.id, business_id=b))
        session.flush()
        _booking_rows(session, b, staff.id, booking)
        return Records(b, customer.id, consent.id, suppression.id, staff.id, service.id, booking.id, message.id,
                       job.id, webhook.id, privacy.id, enforcement.id)


# --- reading back what is stored, whatever row-level security would show an actor ----


def rows(model: type[SQLModel], *where: Any) -> list[Any]:
    """Every stored row of ``model`` matching ``where``, oldest first (read as the system, across businesses)."""
    with db.system_session() as session:
        key = model.__table__.primary_key.columns
        return list(session.exec(select(model).where(*where).order_by(*key)).all())


def count(model: type[SQLModel], *where: Any) -> int:
    """How many stored rows of ``model`` match ``where``."""
    with db.system_session() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def business_snapshot(business_id: int) -> dict[str, list[dict[str, Any]]]:
    """Everything stored for one business, table by table, to compare before and after."""
    snapshot: dict[str, list[dict[str, Any]]] = {}
    with db.system_session() as session:
        for table in ["businesses", *TENANT_TABLES]:
            model = _MODELS[table]
            key = model.id if table == "businesses" else model.business_id
            found = session.exec(select(model).where(key == business_id)).all()
            snapshot[table] = sorted((row.model_dump() for row in found), key=repr)
    return snapshot


def database_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of every table the app's database holds, to compare before and after."""
    with db.system_session() as session:
        connection = session.connection()
        return {
            table: sorted((tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))), key=repr)
            for table in sorted(inspect(connection).get_table_names())
        }


_MODELS: dict[str, type[SQLModel]] = {
    model.__tablename__: model
    for model in (Business, User, UserSession, Customer, ConsentEvent, SuppressionEntry, StaffMember, Service,
                  StaffService, Booking, Message, Job, WebhookEvent, PrivacyRequest, AuditEvent, EnforcementAction)
}


# --- bookings (issue 4): hours, time off and booking events ------------------------------
from kaimen_core.models import BookingEvent, BusinessHours, StaffHours, TimeOff  # noqa: E402


def _booking_rows(session, business_id: int, staff_id: int, booking: Booking) -> None:
    """Opening hours, staff hours, time off and a booking event, so every bookings table has a row."""
    session.add_all([
        BusinessHours(business_id=business_id, weekday=0, opens_minute=540, closes_minute=1020),
        StaffHours(business_id=business_id, staff_id=staff_id, weekday=0, starts_minute=600, ends_minute=960),
        TimeOff(business_id=business_id, staff_id=staff_id, starts_at=booking.start_at + timedelta(days=7),
                ends_at=booking.start_at + timedelta(days=8), reason=f"time off at business {business_id}"),
        BookingEvent(business_id=business_id, booking_id=booking.id, kind="created", status="booked",
                     start_at=booking.start_at, staff_id=staff_id, actor_label="system"),
    ])
    session.flush()


_MODELS.update({model.__tablename__: model for model in (BookingEvent, BusinessHours, StaffHours, TimeOff)})


# --- messaging (issue 5): settings, a conversation and a reminder record -------------------
from kaimen_core.models import Conversation, MessagingSettings, ReminderRecord  # noqa: E402

_records_without_messaging = make_records


def make_records(tenant: Tenant) -> Records:
    """As above, plus messaging settings, a conversation and a reminder record."""
    records = _records_without_messaging(tenant)
    b = tenant.business_id
    with db.system_session() as session:
        session.add_all([
            MessagingSettings(business_id=b, templates={"reminder": f"reminder of business {b}"}),
            Conversation(business_id=b, customer_id=records.customer_id, needs_person=True,
                         needs_person_reason=f"flag of business {b}"),
            ReminderRecord(business_id=b, booking_id=records.booking_id, kind="24h", start_at=utcnow()),
        ])
    return records


_MODELS.update({model.__tablename__: model for model in (Conversation, MessagingSettings, ReminderRecord)})
