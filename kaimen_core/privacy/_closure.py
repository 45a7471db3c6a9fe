"""Closing a business: the owner asks, an operator executes.

The owner first downloads everything the business holds (:func:`business_export`).
The operator's :func:`close_business` then deletes the provider-side records (texts at
the SMS provider, staff photos in media storage), deletes the business (every tenant
row goes with it, by foreign key), verifies that no table holds a row of it any more,
and leaves a certificate in the platform's audit log. Provider progress is kept on the
business row, so an interrupted closure resumes; the deletion itself is one transaction.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, SQLModel, col, delete, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.exceptions import NotFound, PermissionDenied, ValidationError
from kaimen_core.models import Business, Message, StaffMember, utcnow
from kaimen_core.privacy._erasure import ErasureFailed, ProviderErasers, _default_erasers

__all__ = ["business_export", "cancel_closure", "close_business", "request_closure"]

#: Columns never exported: secrets and the closure's own bookkeeping.
_WITHHELD = {"password_hash", "token_hash", "closure_checkpoint", "checkpoint"}


def request_closure(session: Session, *, actor: Actor, confirm_name: str) -> datetime:
    """The owner asks Kaimen to close the business (typing its name to confirm)."""
    actor.require("owner")
    business = db.owned(session, Business, actor.business_id, actor=actor)
    if (confirm_name or "").strip() != business.name:
        raise ValidationError("Type the business's name exactly to confirm.", field="confirm_name")
    if business.closure_requested_at is None:
        business.closure_requested_at = utcnow()
        session.add(business)
        audit.record(session, actor=actor, action="business.closure_requested", target_type="business",
                     target_id=business.id)
    return business.closure_requested_at


def cancel_closure(session: Session, *, actor: Actor) -> None:
    """The owner withdraws the request before an operator has acted on it."""
    actor.require("owner")
    business = db.owned(session, Business, actor.business_id, actor=actor)
    if business.closure_requested_at is None:
        raise ValidationError("No closure was requested.", field="closure")
    business.closure_requested_at = None
    session.add(business)
    audit.record(session, actor=actor, action="business.closure_cancelled", target_type="business",
                 target_id=business.id)


def _export_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def business_export(session: Session, *, actor: Actor, business_id: int | None = None) -> tuple[str, bytes]:
    """Everything the business holds, one JSON file per table, as a ZIP (owners: their own)."""
    if actor.is_operator:
        if business_id is None:
            raise ValidationError("Choose the business to export.", field="business_id")
        audit.record_operator_access(session, actor=actor, purpose="business_export", business_id=business_id)
    else:
        actor.require("owner")
        if business_id not in (None, actor.business_id):
            raise PermissionDenied("You can only export your own business.")
        business_id = actor.business_id
    business = session.get(Business, business_id)
    if business is None:
        raise NotFound("No such business.")
    buffer = io.BytesIO()
    totals: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in sorted(SQLModel.metadata.sorted_tables, key=lambda t: t.name):
            if table.name == "businesses":
                where = table.c.id == business_id
            elif "business_id" in table.c:
                where = table.c.business_id == business_id
            else:
                continue
            rows = [{k: _export_value(v) for k, v in row._mapping.items() if k not in _WITHHELD}
                    for row in session.execute(table.select().where(where))]
            totals[table.name] = len(rows)
            archive.writestr(f"{table.name}.json", json.dumps(rows, indent=1, ensure_ascii=False, default=str))
    audit.record(session, actor=actor, action="business.exported", business_id=business_id,
                 target_type="business", target_id=business_id, detail={"tables": len(totals),
                                                                        "rows": sum(totals.values())})
    return f"{business.slug}-export.zip", buffer.getvalue()


def _remaining(session: Session, business_id: int) -> dict[str, int]:
    """Rows of the business still in any table (read from the schema itself)."""
    inspector = inspect(session.connection())
    quote = session.get_bind().dialect.identifier_preparer.quote
    left: dict[str, int] = {}
    for table in inspector.get_table_names():
        columns = {c["name"] for c in inspector.get_columns(table)}
        key = "id" if table == "businesses" else "business_id" if "business_id" in columns else None
        if key is None:
            continue
        n = session.execute(text(f"SELECT count(*) FROM {quote(table)} WHERE {quote(key)} = :b"),
                            {"b": business_id}).scalar_one()
        if n:
            left[table] = n
    return left


def close_business(*, actor: Actor, business_id: int, engine: Engine | None = None,
                   erasers: ProviderErasers | None = None) -> dict[str, Any]:
    """Operators: erase a business whose owner asked for it, provider records included."""
    with db.tenant_session(actor, engine=engine) as session:
        audit.record_operator_access(session, actor=actor, purpose="business_closure", business_id=business_id)
        business = session.get(Business, business_id)
        if business is None:
            raise NotFound("No such business (it may be closed already).")
        if business.closure_requested_at is None:
            raise ValidationError("The owner has not asked for this business to be closed.", field="business_id")
        sids = sorted(s for s in session.exec(select(Message.provider_sid).where(
            Message.business_id == business_id, col(Message.provider_sid).is_not(None))).all())
        photos = sorted(p for p in session.exec(select(StaffMember.photo_ref).where(
            StaffMember.business_id == business_id, col(StaffMember.photo_ref).is_not(None))).all())
        checkpoint = dict(business.closure_checkpoint or {})
        slug = business.slug
        erasers = erasers or _default_erasers(session, business_id)
    done = set(checkpoint.get("deleted", []))
    failure = None
    try:
        for sid in sids:
            if sid not in done:
                erasers.delete_message(sid)
                done.add(sid)
        for ref in photos:
            if ref not in done:
                erasers.delete_media(ref)
                done.add(ref)
    except Exception as exc:  # keep what was deleted; the next run resumes
        failure = f"A provider did not confirm a deletion ({type(exc).__name__}); run the closure again."
    with db.system_session(engine=engine) as session:
        business = session.get(Business, business_id)
        business.closure_checkpoint = {"deleted": sorted(done)}
        session.add(business)
    if failure:
        raise ErasureFailed(failure)
    with db.system_session(engine=engine) as session:
        counts = {table: n for table, n in _remaining(session, business_id).items() if table != "businesses"}
        session.exec(delete(Business).where(Business.id == business_id))
        left = _remaining(session, business_id)
        if left:
            raise ErasureFailed("Rows of the business remain in: " + ", ".join(sorted(left)) + "; nothing deleted.")
        certificate = {"business": business_id, "slug": slug, "rows_removed": sum(counts.values()),
                       "tables": len(counts), "provider_messages": len(sids), "media": len(photos),
                       "verified_remaining_rows": 0, "completed_at": utcnow().isoformat(), "run_by": actor.label}
        audit.record(session, actor=actor, action="business.closed", business_id=None, target_type="business",
                     target_id=business_id, detail={k: v for k, v in certificate.items() if k != "slug"})
    return certificate
