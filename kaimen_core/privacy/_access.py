"""The answer to an access request: a ZIP of everything held about the customer."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, ValidationError
from kaimen_core.models import Booking, Business, ConsentEvent, Customer, Message, PrivacyRequest, Service, StaffMember
from kaimen_core.privacy._requests import load_request

__all__ = ["access_export"]

_SUMMARY = """\
What {business} holds about you, and why
========================================

Prepared {prepared} in answer to your access request ({regime}, received {received}).

Purposes: booking and keeping your appointments; sending you appointment confirmations
and reminders; answering your messages (an AI receptionist may draft replies);
marketing texts only if you agreed to them (see consent.csv).

Source: you gave us these details directly (in person, by text, by phone or on a form),
or they were imported from our earlier records.

Recipients (processors acting for {business}): Kaimen (our back-office software);
Twilio (delivers text messages); Stripe (billing of the business, not of you);
Anthropic (AI drafting of replies); Cloudinary (staff photos); Railway (hosting).

Retention: messages are kept 24 months, records of privacy requests 24 months;
bookings are kept for the business's records. You may ask us to correct, restrict or
erase your data, and you may complain to your data protection authority.

Files: profile, consent history, bookings and messages, each as JSON and CSV.
"""


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _neutralise(json.dumps(v) if isinstance(v, (list, dict)) else _iso(v))
                             for k, v in row.items()})
    return "\ufeff" + out.getvalue()


def _neutralise(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + value
    return value


def access_export(session: Session, *, actor: Actor, request_id: int) -> tuple[str, bytes]:
    """(file name, ZIP bytes) for a verified access request; audited without personal data."""
    row: PrivacyRequest = load_request(session, actor=actor, request_id=request_id)
    if row.kind != "access":
        raise ValidationError("Only an access request produces an export.", field="kind")
    if row.verified_at is None:
        raise ValidationError("Verify the person's identity first.", field="status")
    customer = session.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or customer.business_id != row.business_id:
        raise NotFound("The customer this request concerns no longer exists.")
    business = session.get(Business, row.business_id)
    profile = {k: _iso(v) for k, v in customer.model_dump().items() if k not in ("business_id",)}
    consent = [{k: _iso(v) for k, v in e.model_dump().items() if k not in ("business_id", "captured_by_user_id")}
               for e in session.exec(select(ConsentEvent).where(
                   ConsentEvent.business_id == row.business_id, ConsentEvent.customer_id == customer.id)
                   .order_by(col(ConsentEvent.occurred_at)))]
    bookings = [
        {"id": b.id, "start": _iso(b.start_at), "end": _iso(b.end_at), "status": b.status,
         "service": service, "staff": staff, "notes": b.notes}
        for b, service, staff in session.exec(
            select(Booking, Service.name, StaffMember.name)
            .outerjoin(Service, col(Service.id) == Booking.service_id)
            .outerjoin(StaffMember, col(StaffMember.id) == Booking.staff_id)
            .where(Booking.business_id == row.business_id, Booking.customer_id == customer.id)
            .order_by(col(Booking.start_at)))
    ]
    messages = [
        {"id": m.id, "direction": m.direction, "sent_at": _iso(m.created_at), "text": m.body, "status": m.status,
         "media": m.media}
        for m in session.exec(select(Message).where(
            Message.business_id == row.business_id, Message.customer_id == customer.id)
            .order_by(col(Message.created_at)))
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _SUMMARY.format(
            business=business.name, prepared=datetime.now(row.received_at.tzinfo).date().isoformat(),
            regime=row.regime.upper(), received=row.received_at.date().isoformat()))
        for name, data in (("profile", [profile]), ("consent", consent), ("bookings", bookings),
                           ("messages", messages)):
            archive.writestr(f"{name}.json", json.dumps(data, indent=2, ensure_ascii=False))
            archive.writestr(f"{name}.csv", _csv(data))
    audit.record(session, actor=actor, action="privacy.access_exported", business_id=row.business_id,
                 target_type="privacy_request", target_id=row.id,
                 detail={"bookings": len(bookings), "messages": len(messages), "consent_events": len(consent)})
    return f"access-request-{row.id}.zip", buffer.getvalue()
