"""The customer directory: add, edit, look up, and the search condition (name, email,
tag, or a phone number in any format). Searching, sorting and paging: ``search``.
"""

from __future__ import annotations

import re

import phonenumbers
from sqlalchemy import ColumnElement, literal
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.customers._phones import full_phone
from kaimen_core.exceptions import Conflict
from kaimen_core.models import Business, Customer, utcnow
from kaimen_core.models.customers import CustomerCreate, CustomerPublic, CustomerUpdate

__all__ = [
    "business_region",
    "contains",
    "create_customer",
    "get_customer",
    "phone_fragment",
    "search_condition",
    "search_needle",
    "update_customer",
]


def _require_member(actor: Actor) -> None:
    actor.require("owner", "staff")


def business_region(session: Session, *, actor: Actor) -> str:
    """The country code phone numbers of the actor's business are read in."""
    return db.owned(session, Business, actor.business_id, actor=actor).region


def search_needle(term: str | None, region: str) -> tuple[str | None, str | None]:
    """(a whole phone number in E.164, else the text to find in the search column) for a
    search term; (None, None) for no term."""
    words = " ".join((term or "").split()).lower()
    if not words:
        return None, None
    number = full_phone(words, region)
    if number:
        return number, None
    digits = phone_fragment(words, region)
    return None, digits if digits else words


def phone_fragment(term: str, region: str) -> str | None:
    """The digits to look for when ``term`` looks like (part of) a phone number, else None.

    The search column holds numbers as E.164 digits (country code first), so a whole valid
    number becomes those digits, and a fragment typed with the region's international
    prefix (``0044 7911``) or trunk prefix (``07911`` in GB) loses it. A fragment is
    otherwise kept as typed: in the US ``0000777`` looks for those seven digits.
    """
    if not re.fullmatch(r"[\d\s()+.\-/]+", term):
        return None
    digits = re.sub(r"\D", "", term)
    if len(digits) < 3 or term.startswith("+"):
        return digits or None
    whole = full_phone(term, region)
    if whole:
        return whole[1:]
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return digits
    idd = re.match(meta.international_prefix or "$^", digits)
    if idd and idd.end() < len(digits):
        return digits[idd.end():]
    trunk = meta.national_prefix or ""
    if trunk and digits.startswith(trunk) and not str(meta.country_code).startswith(trunk) and len(digits) > len(trunk):
        return digits[len(trunk):]
    return digits


def contains(column, needle: str) -> ColumnElement[bool]:
    """``column`` holds ``needle`` anywhere (``LIKE '%needle%'``, wildcards taken literally)."""
    return column.like(db.contains_pattern(needle), escape="\\")


def search_condition(term: str | None, region: str) -> ColumnElement[bool]:
    """The WHERE clause for a search term: name, email, tag, or a phone number in any format."""
    number, needle = search_needle(term, region)
    if number:  # a whole number: the unique (business, phone) index answers at once
        return Customer.phone_e164 == number
    if needle:
        return contains(col(Customer.search_text), needle)
    return literal(True)


def get_customer(session: Session, *, actor: Actor, customer_id: int) -> CustomerPublic:
    """One customer of the actor's business."""
    _require_member(actor)
    return CustomerPublic.model_validate(db.owned(session, Customer, customer_id, actor=actor), from_attributes=True)


def _phone_taken(session: Session, actor: Actor, phone: str | None, other_than: int | None) -> None:
    if phone is None:
        return
    clash = session.exec(
        select(Customer.id).where(
            Customer.business_id == actor.business_id,
            Customer.phone_e164 == phone,
            Customer.id != other_than if other_than is not None else literal(True),
        )
    ).first()
    if clash is not None:
        raise Conflict(f"Another customer already has the number {phone}.")


def _flush(session: Session, phone: str | None) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"Another customer already has the number {phone}.") from None


def create_customer(session: Session, *, actor: Actor, **typed: str | list[str] | None) -> CustomerPublic:
    """Add a customer from the fields as typed (see ``CustomerCreate.inputs``: name, phone, ...);
    the phone is read in the business's region and stored in E.164."""
    _require_member(actor)
    fields = CustomerCreate.read(typed, region=business_region(session, actor=actor))
    _phone_taken(session, actor, fields.phone_e164, None)
    customer = Customer(business_id=actor.business_id, **fields.model_dump())
    session.add(customer)
    _flush(session, fields.phone_e164)
    audit.record(session, actor=actor, action="customer.created", target_type="customer", target_id=customer.id)
    return CustomerPublic.model_validate(customer, from_attributes=True)


def update_customer(session: Session, *, actor: Actor, customer_id: int,
                    **typed: str | list[str] | None) -> CustomerPublic:
    """Replace a customer's editable fields with the form's values (one left empty or out is cleared)."""
    _require_member(actor)
    customer = db.owned(session, Customer, customer_id, actor=actor)
    fields = CustomerUpdate.read(typed, region=business_region(session, actor=actor)).model_dump()
    _phone_taken(session, actor, fields["phone_e164"], customer.id)
    changed = sorted(k for k, v in fields.items() if getattr(customer, k) != v)
    if changed:
        for key, value in fields.items():
            setattr(customer, key, value)
        customer.updated_at = utcnow()
        session.add(customer)
        _flush(session, fields["phone_e164"])
        audit.record(session, actor=actor, action="customer.updated", target_type="customer",
                     target_id=customer.id, detail={"fields": ",".join(changed)[:80]})
    return CustomerPublic.model_validate(customer, from_attributes=True)
