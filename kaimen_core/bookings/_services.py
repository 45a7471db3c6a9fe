"""Services: what the business sells by the appointment (owners set them up)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.bookings._roles import MANAGE_ROLES, VIEW_ROLES
from kaimen_core.models import Service, ServiceCreate, ServiceUpdate, ServiceView, StaffService
from kaimen_core.models.services import ServiceBase

__all__ = ["ServiceView", "create_service", "list_services", "update_service"]


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
    return [ServiceView(**s.model_dump(include={"id", *ServiceBase.model_fields}),
                        staff_ids=tuple(sorted(staff_of.get(s.id, ())))) for s in services]


def create_service(session: Session, *, actor: Actor, **typed: object) -> int:
    """An owner adds a service (the fields of ``ServiceCreate``); returns its id."""
    actor.require(*MANAGE_ROLES)
    service = Service(business_id=actor.business_id, **ServiceCreate.model_validate(typed).model_dump())
    session.add(service)
    session.flush()
    audit.record(session, actor=actor, action="service.created", target_type="service", target_id=service.id)
    return service.id


def update_service(session: Session, *, actor: Actor, service_id: int, **typed: object) -> None:
    """An owner changes a service (every field of ``ServiceUpdate``). Existing bookings keep
    the times they were made with."""
    actor.require(*MANAGE_ROLES)
    service = db.owned(session, Service, service_id, actor=actor)
    for name, value in ServiceUpdate.model_validate(typed).model_dump().items():
        setattr(service, name, value)
    session.add(service)
    session.flush()
    audit.record(session, actor=actor, action="service.updated", target_type="service", target_id=service.id,
                 detail={"active": service.active})
