"""The demo business a newcomer signs in to: "Demo Salon" (slug ``demo``).

Seeding is idempotent: a second run finds the business and changes nothing. The
sign-in passwords are generated (or taken from KAIMEN_DEMO_PASSWORD), printed once
and kept in ``data/demo-credentials.txt`` (readable by its owner only).
"""

from __future__ import annotations

import os
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import select

from kaimen_core import audit, auth, db
from kaimen_core.actors import SYSTEM
from kaimen_core.config import get_settings
from kaimen_core.files import write_private
from kaimen_core.models import (
    Booking,
    Business,
    BusinessHours,  # bookings (issue 4)
    ConsentEvent,
    Customer,
    Message,
    Service,
    StaffHours,  # bookings (issue 4)
    StaffMember,
    StaffService,
    utcnow,
)

__all__ = ["DEMO_NUMBER", "DEMO_SLUG", "DemoSignIn", "credentials_file", "seed_demo"]

DEMO_SLUG = "demo"
DEMO_NUMBER = "+15555550100"
DEMO_ZONE = "America/New_York"

_FIRST = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Chloe", "Lucas", "Isla", "Mateo",
          "Priya", "Omar", "Hannah", "Diego", "Grace", "Yuki", "Sofia", "Caleb", "Amara", "Leo"]
_LAST = ["Martinez", "Chen", "Okafor", "Johnson", "Rossi", "Nguyen", "Patel", "Schmidt",
         "Kowalski", "Brown", "Haddad", "Silva", "Murphy", "Kim", "Dubois", "Larsen"]
_SERVICES = [("Women's cut", 60, 6500, 10), ("Men's cut", 30, 3500, 5), ("Colour", 120, 14000, 15),
             ("Blow-dry", 45, 4000, 5), ("Beard trim", 20, 2000, 5)]
_STAFF = [("Sam Rivera", "Senior stylist; colour specialist.", [0, 2, 3]),
          ("Jordan Lee", "Barber; fades and beard work.", [1, 4]),
          ("Alex Morgan", "Stylist; cuts and blow-dries.", [0, 1, 3])]


@dataclass(frozen=True, slots=True)
class DemoSignIn:
    """The demo's sign-in details, and whether this run created the business."""

    created: bool
    owner_username: str
    staff_username: str
    password: str | None


def credentials_file() -> Path:
    """Where the demo sign-in is kept for the newcomer."""
    return get_settings().data_dir / "demo-credentials.txt"


def _write_credentials(sign_in: DemoSignIn) -> None:
    write_private(credentials_file(), (
        "Demo Salon sign-in (http://127.0.0.1:8501)\n"
        f"owner: {sign_in.owner_username}\nstaff: {sign_in.staff_username}\n"
        f"password (both): {sign_in.password}\n"
    ).encode())


def seed_demo(*, password: str | None = None, engine: Engine | None = None, rng_seed: int = 7) -> DemoSignIn:
    """Create Demo Salon with an owner, a staff user and sample data, unless it exists."""
    with db.system_session(engine=engine) as session:
        if session.exec(select(Business).where(Business.slug == DEMO_SLUG)).first() is not None:
            return DemoSignIn(False, "demo-owner", "demo-staff", None)
        password = password or os.environ.get("KAIMEN_DEMO_PASSWORD") or secrets.token_urlsafe(12)
        business = Business(name="Demo Salon", slug=DEMO_SLUG, time_zone=DEMO_ZONE, region="US",
                            phone="+12125550142", messaging_number=DEMO_NUMBER)
        session.add(business)
        session.flush()
        owner = auth.new_user(session, role="owner", business_id=business.id, username="demo-owner",
                              email="owner@demo-salon.example", display_name="Dana Owner", password=password)
        staff_user = auth.new_user(session, role="staff", business_id=business.id, username="demo-staff",
                                   email="staff@demo-salon.example", display_name="Sam Rivera", password=password)
        _sample_data(session, business, owner.id, staff_user.id, random.Random(rng_seed))
        audit.record(session, actor=SYSTEM, action="business.demo_seeded", business_id=business.id,
                     target_type="business", target_id=business.id)
    result = DemoSignIn(True, "demo-owner", "demo-staff", password)
    _write_credentials(result)
    return result


def _sample_data(session, business: Business, owner_id: int, staff_user_id: int, rng: random.Random) -> None:
    services = [Service(business_id=business.id, name=n, duration_minutes=d, price_cents=p, buffer_minutes=b)
                for n, d, p, b in _SERVICES]
    session.add_all(services)
    staff = [StaffMember(business_id=business.id, name=n, bio=bio, user_id=staff_user_id if i == 0 else None)
             for i, (n, bio, _) in enumerate(_STAFF)]
    session.add_all(staff)
    session.flush()
    for member, (_, _, offered) in zip(staff, _STAFF, strict=True):
        session.add_all(StaffService(staff_id=member.id, service_id=services[i].id, business_id=business.id)
                        for i in offered)
    # Opening hours Monday to Saturday, 9:00-17:00 (the sample bookings fit them); Jordan keeps weekly hours
    # of his own (the same days), so the Staff page shows both ways of setting hours.
    session.add_all(BusinessHours(business_id=business.id, weekday=d, opens_minute=540, closes_minute=1020)
                    for d in range(6))
    session.add_all(StaffHours(business_id=business.id, staff_id=staff[1].id, weekday=d, starts_minute=540,
                               ends_minute=1020) for d in range(6))

    customers = []
    for i in range(40):
        name = f"{_FIRST[i % len(_FIRST)]} {_LAST[(i * 7) % len(_LAST)]}"
        customer = Customer(business_id=business.id, name=name, phone_e164=f"+1212555{i + 100:04d}",
                            email=f"{name.split()[0].lower()}.{i}@example.com",
                            tags=rng.sample(["regular", "new", "colour", "vip", "walk-in"], k=rng.randint(0, 2)),
                            marketing_consent=i % 3 == 0)
        customers.append(customer)
    session.add_all(customers)
    session.flush()
    now = utcnow()
    for customer in customers:
        if customer.marketing_consent:
            session.add(ConsentEvent(business_id=business.id, customer_id=customer.id, kind="marketing",
                                     granted=True, method="in_person", captured_by_user_id=owner_id,
                                     wording="Happy to get offers by text from Demo Salon. Reply STOP to opt out.",
                                     occurred_at=now - timedelta(days=rng.randint(5, 200))))

    zone = ZoneInfo(business.time_zone)
    today = now.astimezone(zone).date()
    for member, (_, _, offered) in zip(staff, _STAFF, strict=True):
        for day_offset in range(-14, 15):
            day = today + timedelta(days=day_offset)
            if day.weekday() == 6:
                continue
            cursor = datetime.combine(day, time(9, 0), tzinfo=zone)
            closing = datetime.combine(day, time(17, 0), tzinfo=zone)
            while True:
                cursor += timedelta(minutes=rng.choice([0, 15, 30, 60, 90]))
                service = services[rng.choice(offered)]
                end = cursor + timedelta(minutes=service.duration_minutes)
                if end > closing:
                    break
                start_utc = cursor.astimezone(ZoneInfo("UTC"))
                status = "booked"
                if start_utc < now:
                    status = rng.choices(["completed", "no_show", "cancelled"], weights=[85, 7, 8])[0]
                session.add(Booking(business_id=business.id, customer_id=rng.choice(customers).id,
                                    staff_id=member.id, service_id=service.id, start_at=start_utc,
                                    end_at=end.astimezone(ZoneInfo("UTC")), status=status,
                                    occupied_until=(end + timedelta(minutes=service.buffer_minutes)).astimezone(
                                        ZoneInfo("UTC")),
                                    created_by_user_id=owner_id))
                cursor = end + timedelta(minutes=service.buffer_minutes)

    for customer in customers[:8]:
        sent = now - timedelta(hours=rng.randint(2, 300))
        session.add(Message(business_id=business.id, customer_id=customer.id, direction="outbound",
                            kind="transactional", status="delivered", created_at=sent, updated_at=sent,
                            body=f"Hi {customer.name.split()[0]}, this is Demo Salon confirming your "
                                 "appointment. Reply C to confirm."))
        reply = sent + timedelta(minutes=rng.randint(1, 50))
        session.add(Message(business_id=business.id, customer_id=customer.id, direction="inbound",
                            status="received", body=rng.choice(["C", "Confirmed, thanks!", "See you then"]),
                            created_at=reply, updated_at=reply))
