"""Services: what the business sells by the appointment (owners set them up)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.bookings._roles import MANAGE_ROLES, VIEW_ROLES
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Service, StaffService
from kaimen_core.validators import clean_name

__all__ = ["ServiceView", "create_service", "list_services", "update_service"]

MAX_DURATION = 12 * 60
MAX_BUFFER = 4 * 60


@dataclass(frozen=True, slots=True)
class ServiceView:
    """A service as pages show it, with the staff who perform it."""

    id: int
    name: str
    duration_minutes: int
    buffer_minutes: int
    price_cents: int
    currency: str
    active: bool
    staff_ids: tuple[int, ...]

    @property
    def price(self) -> str:
        return f"{self.price_cents / 100:.2f} {self.currency}"


def _checked(duration_minutes: int, buffer_minutes: int, price_cents: int, currency: str) -> str:
    if not 5 <= int(duration_minutes) <= MAX_DURATION:
        raise ValidationError(f"Duration must be between 5 and {MAX_DURATION} minutes.", field="duration_minutes")
    if not 0 <= int(buffer_minutes) <= MAX_BUFFER:
        raise ValidationError(f"Buffer must be between 0 and {MAX_BUFFER} minutes.", field="buffer_minutes")
    if int(price_cents) < 0:
        raise ValidationError("Price cannot be negative.", field="price_cents")
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValidationError("Currency must be a three-letter code such as USD.", field="currency")
    return code


def list_services(session: Session, *, actor: Actor, include_inactive: bool = True) -> list[ServiceView]:
    """The business's services by name; staff may read them."""
    actor.require(*VIEW_ROLES)
    query = select(Service).where(Service.business_id == actor.business_id)
    if not include_inactive:
        query = query.where(col(Service.active).is_(True))
    services = session.exec(query.order_by(Service.name, Service.id)).all()
    links = session.exec(
        select(StaffService.service_id, StaffService.staff_id).where(StaffService.business_id == actor.business_id)
    ).all()
    staff_of: dict[int, list[int]] = {}
    for service_id, staff_id in links:
        staff_of.setdefault(service_id, []).append(staff_id)
    return [
        ServiceView(s.id, s.name, s.duration_minutes, s.buffer_minutes, s.price_cents, s.currency, s.active,
                    tuple(sorted(staff_of.get(s.id, ()))))
        for s in services
    ]


def create_service(
    session: Session,
    *,
    actor: Actor,
    name: str,
    duration_minutes: int,
    price_cents: int = 0,
    currency: str = "USD",
    buffer_minutes: int = 0,
    active: bool = True,
) -> int:
    """An owner adds a service; returns its id."""
    actor.require(*MANAGE_ROLES)
    code = _checked(duration_minutes, buffer_minutes, price_cents, currency)
    service = Service(business_id=actor.business_id, name=clean_name(name, field="name", label="Service name"),
                      duration_minutes=int(duration_minutes), price_cents=int(price_cents), currency=code,
                      buffer_minutes=int(buffer_minutes), active=bool(active))
    session.add(service)
    session.flush()
    audit.record(session, actor=actor, action="service.created", target_type="service", target_id=service.id)
    return service.id


def update_service(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    name: str,
    duration_minutes: int,
    price_cents: int,
    currency: str,
    buffer_minutes: int,
    active: bool,
) -> None:
    """An owner changes a service. Existing bookings keep the times they were made with."""
    actor.require(*MANAGE_ROLES)
    service = db.owned(session, Service, service_id, actor=actor)
    code = _checked(duration_minutes, buffer_minutes, price_cents, currency)
    service.name = clean_name(name, field="name", label="Service name")
    service.duration_minutes = int(duration_minutes)
    service.price_cents = int(price_cents)
    service.currency = code
    service.buffer_minutes = int(buffer_minutes)
    service.active = bool(active)
    session.add(service)
    session.flush()
    audit.record(session, actor=actor, action="service.updated", target_type="service", target_id=service.id,
                 detail={"active": service.active})
