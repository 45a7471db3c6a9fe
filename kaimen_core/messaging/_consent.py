"""Consent changes: opt-out (keyword, plain words, carrier 21610), opt-in; each is a consent event."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from kaimen_core.messaging._text import phone_hash
from kaimen_core.models import ConsentEvent, Customer, SuppressionEntry

__all__ = []


def suppress(session: Session, *, business_id: int, phone: str, reason: str) -> None:
    """Add the number's one-way hash to the business's suppression list (once)."""
    hashed = phone_hash(business_id, phone)
    exists = session.exec(select(SuppressionEntry.id).where(
        SuppressionEntry.business_id == business_id, SuppressionEntry.phone_hash == hashed)).first()
    if exists is None:
        session.add(SuppressionEntry(business_id=business_id, phone_hash=hashed, reason=reason[:32]))


def opt_out(session: Session, *, customer: Customer, method: str, wording: str | None, message_id: int | None,
            now: datetime) -> bool:
    """Opt the customer out of every text from the business; False when they already were."""
    if customer.opted_out_at is not None:
        return False
    customer.opted_out_at = now
    customer.marketing_consent = False
    customer.updated_at = now
    session.add(customer)
    session.add(ConsentEvent(business_id=customer.business_id, customer_id=customer.id, kind="opt_out",
                             granted=False, method=method, wording=wording, message_id=message_id,
                             occurred_at=now))
    if customer.phone_e164:
        suppress(session, business_id=customer.business_id, phone=customer.phone_e164, reason=method)
    session.flush()
    return True


def opt_in(session: Session, *, customer: Customer, wording: str | None, message_id: int | None,
           now: datetime) -> bool:
    """START/YES/UNSTOP after an opt-out: texts may go again (marketing still needs its own consent)."""
    hashed = phone_hash(customer.business_id, customer.phone_e164 or "")
    entry = session.exec(select(SuppressionEntry).where(
        SuppressionEntry.business_id == customer.business_id, SuppressionEntry.phone_hash == hashed)).first()
    if customer.opted_out_at is None and entry is None:
        return False
    customer.opted_out_at = None
    customer.updated_at = now
    session.add(customer)
    if entry is not None:
        session.delete(entry)
    session.add(ConsentEvent(business_id=customer.business_id, customer_id=customer.id, kind="opt_in",
                             granted=True, method="keyword", wording=wording, message_id=message_id,
                             occurred_at=now))
    session.flush()
    return True
