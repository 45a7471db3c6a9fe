"""The customer directory: search, sort and page on the server; add, edit, look up.

A page never loads the whole table: :func:`search_customers` asks for one page plus one
row (to know whether there is a next page) through indexes that make the first page as
quick at a million customers as at a thousand (see the 0002 migration).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.customers._fields import CustomerFields, full_phone, phone_search_digits, search_text
from kaimen_core.exceptions import Conflict, NotFound, ValidationError
from kaimen_core.models import Business, Customer, utcnow
from kaimen_core.models.customers import CustomerPublic

__all__ = [
    "PAGE_SIZE",
    "SORTS",
    "CustomerPage",
    "business_region",
    "create_customer",
    "get_customer",
    "search_condition",
    "search_customers",
    "update_customer",
]

PAGE_SIZE = 50
_RARE = 5000  # matches up to which a search sorts its matches instead of walking the sort index
#: Sort choices: label -> (column, descending).
SORTS = {
    "name": ("name", False),
    "newest": ("created_at", True),
    "recently_updated": ("updated_at", True),
}


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of customers, and whether another follows."""

    customers: list[CustomerPublic]
    page: int
    page_size: int
    has_next: bool


def _require_member(actor: Actor) -> None:
    actor.require("owner", "staff")


def business_region(session: Session, *, actor: Actor) -> str:
    """The country code phone numbers of the actor's business are read in."""
    region = session.exec(select(Business.region).where(Business.id == actor.business_id)).first()
    if region is None:
        raise NotFound("No such business.")
    return region


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(term: str | None, region: str) -> ColumnElement[bool]:
    """The WHERE clause for a search term: name, email, tag, or a phone number in any format."""
    words = " ".join((term or "").split()).lower()
    if not words:
        return literal(True)
    number = full_phone(words, region)
    if number:  # a whole number: the unique (business, phone) index answers at once
        return Customer.phone_e164 == number
    digits = phone_search_digits(words, region)
    needle = digits if digits else words
    return col(Customer.search_text).like(f"%{_escape_like(needle)}%", escape="\\")


def search_customers(
    session: Session,
    *,
    actor: Actor,
    query: str | None = None,
    sort: str = "name",
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> CustomerPage:
    """One page of the business's customers matching ``query``, sorted by ``sort``."""
    _require_member(actor)
    if sort not in SORTS:
        raise ValidationError(f"Unknown sort {sort!r}.", field="sort")
    page = max(int(page), 0)
    page_size = max(1, min(int(page_size), 200))
    column, descending = SORTS[sort]
    key, tiebreak = getattr(Customer, column), col(Customer.id)
    order = (col(key).desc(), tiebreak.desc()) if descending else (col(key).asc(), tiebreak.asc())
    where = (Customer.business_id == actor.business_id,
             search_condition(query, business_region(session, actor=actor)))
    statement = select(Customer).where(*where).order_by(*order).offset(page * page_size).limit(page_size + 1)
    found = None
    substring = (query or "").strip() and not full_phone(query.strip(), business_region(session, actor=actor))
    if substring and session.connection().dialect.name == "postgresql":
        found = _rare_term_page(session, where, column, descending, page * page_size, page_size + 1)
    if found is None:
        found = session.exec(statement).all()
    return CustomerPage(
        customers=[CustomerPublic.model_validate(c, from_attributes=True) for c in found[:page_size]],
        page=page,
        page_size=page_size,
        has_next=len(found) > page_size,
    )


_BITMAP_ONLY = "SELECT set_config('enable_seqscan', :on, true), set_config('enable_indexscan', :on, true)"


def _rare_term_page(session: Session, where, column: str, descending: bool, offset: int, limit: int):
    """PostgreSQL: a page of a rare term's matches, or None when the term is common.

    The planner cannot tell a rare search term from a common one (its estimate for
    ``LIKE '%term%'`` is far too high), so left alone it walks the sort index, reading
    the whole business before a phone number or an email turns up. Here the matches are
    counted through the trigram index, stopping at a few thousand, with only bitmap scans
    allowed: under that, just those matches are sorted; over it (None) the term is common
    and walking the sort index fills a page within a few rows. Either way the first page
    costs about the same at a million customers as at a thousand.
    """
    session.exec(text(_BITMAP_ONLY), params={"on": "off"})
    try:
        capped = select(Customer.id).where(*where).limit(_RARE + 1).subquery()
        if session.exec(select(func.count()).select_from(capped)).one() > _RARE:
            return None
        hits = select(Customer.id, getattr(Customer, column).label("key")).where(*where).cte("hits").prefix_with(
            "MATERIALIZED")
        order = (hits.c.key.desc(), hits.c.id.desc()) if descending else (hits.c.key.asc(), hits.c.id.asc())
        page = select(hits.c.id, hits.c.key).order_by(*order).offset(offset).limit(limit).subquery()
        final = (page.c.key.desc(), page.c.id.desc()) if descending else (page.c.key.asc(), page.c.id.asc())
        return session.exec(select(Customer).join(page, page.c.id == Customer.id).order_by(*final)).all()
    finally:
        session.exec(text(_BITMAP_ONLY), params={"on": "on"})


def _load(session: Session, actor: Actor, customer_id: int) -> Customer:
    customer = session.exec(
        select(Customer).where(Customer.id == customer_id, Customer.business_id == actor.business_id)
    ).first()
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def get_customer(session: Session, *, actor: Actor, customer_id: int) -> CustomerPublic:
    """One customer of the actor's business."""
    _require_member(actor)
    return CustomerPublic.model_validate(_load(session, actor, customer_id), from_attributes=True)


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


def create_customer(
    session: Session,
    *,
    actor: Actor,
    name: str | None,
    phone: str | None = None,
    email: str | None = None,
    notes: str | None = None,
    tags: list[str] | str | None = None,
    preferred_language: str | None = None,
    time_zone: str | None = None,
) -> CustomerPublic:
    """Add a customer; the phone is read in the business's region and stored in E.164."""
    _require_member(actor)
    fields = CustomerFields.clean(region=business_region(session, actor=actor), name=name, phone=phone,
                                  email=email, notes=notes, tags=tags, preferred_language=preferred_language,
                                  time_zone=time_zone)
    _phone_taken(session, actor, fields.phone_e164, None)
    customer = Customer(business_id=actor.business_id, **vars(fields),
                        search_text=search_text(fields.name, fields.email, fields.phone_e164, fields.tags))
    session.add(customer)
    _flush(session, fields.phone_e164)
    audit.record(session, actor=actor, action="customer.created", target_type="customer", target_id=customer.id)
    return CustomerPublic.model_validate(customer, from_attributes=True)


def update_customer(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    name: str | None,
    phone: str | None = None,
    email: str | None = None,
    notes: str | None = None,
    tags: list[str] | str | None = None,
    preferred_language: str | None = None,
    time_zone: str | None = None,
) -> CustomerPublic:
    """Replace a customer's editable fields with the form's values (empty clears a field)."""
    _require_member(actor)
    customer = _load(session, actor, customer_id)
    fields = CustomerFields.clean(region=business_region(session, actor=actor), name=name, phone=phone,
                                  email=email, notes=notes, tags=tags, preferred_language=preferred_language,
                                  time_zone=time_zone)
    _phone_taken(session, actor, fields.phone_e164, customer.id)
    changed = sorted(k for k, v in vars(fields).items() if getattr(customer, k) != v)
    if changed:
        for key, value in vars(fields).items():
            setattr(customer, key, value)
        customer.search_text = search_text(fields.name, fields.email, fields.phone_e164, fields.tags)
        customer.updated_at = utcnow()
        session.add(customer)
        _flush(session, fields.phone_e164)
        audit.record(session, actor=actor, action="customer.updated", target_type="customer",
                     target_id=customer.id, detail={"fields": ",".join(changed)[:80]})
    return CustomerPublic.model_validate(customer, from_attributes=True)

