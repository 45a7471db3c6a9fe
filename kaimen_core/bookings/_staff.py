"""Staff members: the people whose time is booked, their services and their photos."""

from __future__ import annotations

from sqlmodel import Session, col, delete, select

from kaimen_core import audit, db, media
from kaimen_core.actors import Actor
from kaimen_core.bookings._roles import MANAGE_ROLES, VIEW_ROLES
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import Service, StaffCreate, StaffMember, StaffService, StaffUpdate, StaffView
from kaimen_core.models.services import StaffBase
from kaimen_core.providers.media import media_store as _media_store
from kaimen_core.providers.media import store_for

__all__ = [
    "StaffView",
    "create_staff",
    "list_staff",
    "remove_staff_photo",
    "set_staff_photo",
    "staff_photo",
    "update_staff",
]


def _set_services(session: Session, actor: Actor, member: StaffMember, service_ids) -> None:
    wanted = {int(i) for i in service_ids or ()}
    if wanted:
        found = set(session.exec(
            select(Service.id).where(Service.business_id == actor.business_id, col(Service.id).in_(wanted))
        ).all())
        if found != wanted:
            raise ValidationError("One of the chosen services does not exist.", field="service_ids")
    session.exec(delete(StaffService).where(StaffService.business_id == actor.business_id,
                                            StaffService.staff_id == member.id))
    session.add_all(StaffService(staff_id=member.id, service_id=i, business_id=actor.business_id)
                    for i in sorted(wanted))


def list_staff(session: Session, *, actor: Actor, include_inactive: bool = True) -> list[StaffView]:
    """The business's staff by name; staff may read it."""
    actor.require(*VIEW_ROLES)
    query = select(StaffMember).where(StaffMember.business_id == actor.business_id)
    if not include_inactive:
        query = query.where(col(StaffMember.active).is_(True))
    members = session.exec(query.order_by(StaffMember.name, StaffMember.id)).all()
    links = session.exec(
        select(StaffService.staff_id, StaffService.service_id).where(StaffService.business_id == actor.business_id)
    ).all()
    services_of: dict[int, list[int]] = {}
    for staff_id, service_id in links:
        services_of.setdefault(staff_id, []).append(service_id)
    return [StaffView(**m.model_dump(include={"id", *StaffBase.model_fields}), has_photo=bool(m.photo_ref),
                      service_ids=tuple(sorted(services_of.get(m.id, ())))) for m in members]


def create_staff(session: Session, *, actor: Actor, service_ids: list[int] | tuple[int, ...] = (),
                 **typed: object) -> int:
    """An owner adds a staff member (the fields of ``StaffCreate``) who works the business's
    hours until given their own."""
    actor.require(*MANAGE_ROLES)
    member = StaffMember(business_id=actor.business_id, **StaffCreate.model_validate(typed).model_dump())
    session.add(member)
    session.flush()
    _set_services(session, actor, member, service_ids)
    audit.record(session, actor=actor, action="staff.created", target_type="staff", target_id=member.id)
    return member.id


def update_staff(session: Session, *, actor: Actor, staff_id: int, service_ids: list[int] | tuple[int, ...],
                 **typed: object) -> None:
    """An owner changes a staff member's details (every field of ``StaffUpdate``) and
    services. Their bookings stay."""
    actor.require(*MANAGE_ROLES)
    member = db.owned(session, StaffMember, staff_id, actor=actor)
    for name, value in StaffUpdate.model_validate(typed).model_dump().items():
        setattr(member, name, value)
    session.add(member)
    _set_services(session, actor, member, service_ids)
    session.flush()
    audit.record(session, actor=actor, action="staff.updated", target_type="staff", target_id=member.id,
                 detail={"active": member.active, "services": len(service_ids)})


def set_staff_photo(session: Session, *, actor: Actor, staff_id: int, data: bytes | media.CleanImage) -> None:
    """An owner uploads a photo: checked and cleaned (kaimen_core.media), stored, the old one deleted.

    ``data`` is the upload's bytes, or the :class:`~kaimen_core.media.CleanImage` that
    ``media.clean_photo`` already made of them (a page that showed the preview), which is
    stored as it is: either way only a cleaned photo is stored.
    """
    actor.require(*MANAGE_ROLES)
    member = db.owned(session, StaffMember, staff_id, actor=actor)
    photo = data if isinstance(data, media.CleanImage) else media.clean_photo(data)
    store = _media_store()
    ref = store.save(photo.data, folder=f"b{actor.business_id}", name=photo.name)
    old = member.photo_ref
    member.photo_ref = ref
    session.add(member)
    try:
        session.flush()
    except Exception:
        store.delete(ref)  # do not leave an orphan behind a failed write
        raise
    if old:
        store_for(old).delete(old)
    audit.record(session, actor=actor, action="staff.photo_set", target_type="staff", target_id=member.id,
                 detail={"width": photo.width, "height": photo.height})


def remove_staff_photo(session: Session, *, actor: Actor, staff_id: int) -> None:
    """An owner removes a photo; the stored file (or Cloudinary asset) is destroyed."""
    actor.require(*MANAGE_ROLES)
    member = db.owned(session, StaffMember, staff_id, actor=actor)
    if not member.photo_ref:
        return
    store_for(member.photo_ref).delete(member.photo_ref)
    member.photo_ref = None
    session.add(member)
    session.flush()
    audit.record(session, actor=actor, action="staff.photo_removed", target_type="staff", target_id=member.id)


def staff_photo(session: Session, *, actor: Actor, staff_id: int) -> str | bytes | None:
    """What ``st.image`` shows for a staff member: a thumbnail URL or the image's bytes; None without one."""
    actor.require(*VIEW_ROLES)
    member = db.owned(session, StaffMember, staff_id, actor=actor)
    if not member.photo_ref:
        return None
    return store_for(member.photo_ref).display(member.photo_ref)
