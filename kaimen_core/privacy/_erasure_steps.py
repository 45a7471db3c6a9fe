"""The erasure's five steps, each for one or many requests of one business.

``prepare`` and ``database`` work on all the requests given with a fixed number of
statements (``IN`` lists, ``RETURNING`` to count per request), so erasing a thousand
customers costs a handful of statements, not thousands. ``verification`` is one scan:
the database's own filter for one person, one pass over the business for several.
``providers`` and ``certificate`` go request by request. Each step writes what it did
into the request's checkpoint (``cps``); the orchestrator in ``_erasure`` commits the
checkpoints with the step's changes.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, or_, update
from sqlmodel import Session, col, select

from kaimen_core import audit
from kaimen_core.actors import SYSTEM, Actor
from kaimen_core.messaging import phone_hash
from kaimen_core.models import (
    Booking,
    Business,
    ConsentEvent,
    Customer,
    Job,
    Message,
    PrivacyRequest,
    SuppressionEntry,
    WebhookEvent,
    unrouted_events_of,
    utcnow,
)
from kaimen_core.privacy._verify import Finding, needles_for, scan, scan_many

__all__ = ["ProviderErasers", "certificate", "chunked", "database", "prepare", "providers", "verification"]

Checkpoints = dict[int, dict[str, Any]]

#: Set-based statements leave the session's loaded objects alone (none of them are affected).
_PLAIN = {"synchronize_session": False}
_CHUNK = 5000  # ids in one IN list

# Twilio's delivery statuses: a status callback is stored under "<MessageSid>:<status>".
_STATUSES = ("accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed",
             "received", "receiving", "read", "canceled", "partially_delivered")


@dataclass
class ProviderErasers:
    """How to delete the person's records held by providers (chosen from settings by default)."""

    delete_message: Callable[[str], None]
    delete_media: Callable[[str], None]
    message_service: str = "local outbox"


def chunked(values: Iterable[Any], run: Callable[[list[Any]], Iterable[Any]]) -> list[Any]:
    """``run`` once per slice of an ``IN`` list (drivers cap the parameters of one statement)."""
    values, found = list(values), []
    for start in range(0, len(values), _CHUNK):
        found.extend(run(values[start:start + _CHUNK]))
    return found


def prepare(session: Session, rows: Sequence[PrivacyRequest], cps: Checkpoints) -> dict[int, str]:
    """Note each person's identifiers, messages, provider ids and media; the failures by request."""
    business = rows[0].business_id
    region = session.exec(select(Business.region).where(Business.id == business)).one()
    customers = {c.id: c for c in chunked(
        (row.customer_id for row in rows if row.customer_id is not None),
        lambda ids: session.exec(select(Customer).where(Customer.business_id == business, col(Customer.id).in_(ids))))}
    messages: dict[int, list[tuple[int, str | None, list]]] = defaultdict(list)
    for customer_id, message_id, sid, media in chunked(customers, lambda ids: session.exec(
            select(Message.customer_id, Message.id, Message.provider_sid, Message.media).where(
                Message.business_id == business, col(Message.customer_id).in_(ids)))):
        messages[customer_id].append((message_id, sid, media))
    waiting = _unrouted_texts(session, business, {c.phone_e164 for c in customers.values() if c.phone_e164})
    failures: dict[int, str] = {}
    for row in rows:
        customer = customers.get(row.customer_id)
        if customer is None:
            failures[row.id] = "The customer this request concerns no longer exists; nothing to erase."
            continue
        cp, theirs = cps[row.id], messages[customer.id]
        cp["subject"] = {"customer_id": customer.id, "opted_out": customer.opted_out_at is not None,
                         "phone": customer.phone_e164,
                         "needles": needles_for(name=customer.name, phone_e164=customer.phone_e164,
                                                email=customer.email, region=region)}
        cp["message_ids"] = sorted(message_id for message_id, _, _ in theirs)
        cp["provider_sids"] = sorted({sid for _, sid, _ in theirs if sid} | waiting.get(customer.phone_e164, set()))
        cp["media_refs"] = sorted({m["ref"] for _, _, media in theirs for m in (media or []) if m.get("ref")})
    return failures


def _unrouted_texts(session: Session, business_id: int, phones: set[str]) -> dict[str, set[str]]:
    """The MessageSids of texts between these phones and the business that no message of it holds, by phone.

    The sidecar stores an inbound text before the worker applies it; one still waiting
    (or failed) holds the person's number and words, would bring the customer back when
    applied, and is a record at Twilio. A delivery status for a text Kaimen does not know
    (sent from the business's number but not through Kaimen, or whose message is gone)
    stays with no business and holds the person's number; that text is a record at Twilio
    too. Their sids join the person's provider ids, so the database step empties the stored
    events and the providers step deletes the records.
    """
    if not phones:
        return {}
    payload = col(WebhookEvent.payload)
    person = case((WebhookEvent.kind == "sms.status", payload["To"].as_string()), else_=payload["From"].as_string())
    waiting = and_(WebhookEvent.business_id == business_id, col(WebhookEvent.status).in_(("received", "failed")),
                   col(WebhookEvent.kind).in_(("sms.inbound", "sms.simulated")))
    texts = select(person, payload["MessageSid"].as_string()).where(
        WebhookEvent.provider == "twilio", or_(unrouted_events_of(business_id), waiting))
    found: dict[str, set[str]] = defaultdict(set)
    for phone, sid in chunked(phones, lambda chunk: session.exec(texts.where(person.in_(chunk)))):
        if sid:
            found[phone].add(sid)
    return found


def database(session: Session, rows: Sequence[PrivacyRequest], cps: Checkpoints) -> None:
    """Delete the people's rows and personal data; count what went, per request.

    Each request concerns a different customer (the bulk runner never puts two requests
    for one customer in the same batch).
    """
    business = rows[0].business_id
    subjects = {row.id: cps[row.id]["subject"] for row in rows}
    request_of = {subject["customer_id"]: request_id for request_id, subject in subjects.items()}
    message_of = {m: row.id for row in rows for m in cps[row.id].get("message_ids", [])}
    event_of = {event: row.id for row in rows for sid in cps[row.id].get("provider_sids", [])
                for event in (sid, *(f"{sid}:{status}" for status in _STATUSES))}
    counts: dict[int, dict[str, int]] = {row.id: {} for row in rows}

    def tally(name: str, owner: dict[Any, int], keys: Iterable[Any]) -> None:
        per = Counter(owner[key] for key in keys)
        for row in rows:
            counts[row.id][name] = per.get(row.id, 0)

    def by_customer(statement: Callable[[list[int]], Any]) -> list[Any]:
        return chunked(request_of, lambda ids: session.exec(statement(ids).execution_options(**_PLAIN)).all())

    digests = {request_id: phone_hash(business, subject["phone"]) for request_id, subject in subjects.items()
               if subject["opted_out"] and subject["phone"]}
    kept = set(chunked(digests.values(), lambda hashes: session.exec(select(SuppressionEntry.phone_hash).where(
        SuppressionEntry.business_id == business, col(SuppressionEntry.phone_hash).in_(hashes)))))
    for request_id, digest in digests.items():
        if digest not in kept:
            session.add(SuppressionEntry(business_id=business, phone_hash=digest, reason="opt_out"))
            kept.add(digest)
        counts[request_id]["suppression_kept"] = 1
    tally("messages", request_of, (c for c, in by_customer(lambda ids: delete(Message).where(
        Message.business_id == business, col(Message.customer_id).in_(ids)).returning(Message.customer_id))))
    tally("consent_events", request_of, (c for c, in by_customer(lambda ids: delete(ConsentEvent).where(
        ConsentEvent.business_id == business, col(ConsentEvent.customer_id).in_(ids))
        .returning(ConsentEvent.customer_id))))
    booked = by_customer(lambda ids: select(Booking.id, Booking.customer_id).where(
        Booking.business_id == business, col(Booking.customer_id).in_(ids)).with_for_update())

    def detach(ids: list[int]) -> list[Any]:
        session.exec(update(Booking).where(col(Booking.id).in_(ids)).values(customer_id=None, notes=None)
                     .execution_options(**_PLAIN))
        return []

    chunked((booking for booking, _ in booked), detach)
    tally("bookings_detached", request_of, (customer for _, customer in booked))
    payload_message = col(Job.payload)["message_id"].as_integer()
    tally("jobs", message_of, chunked(message_of, lambda ids: session.exec(delete(Job).where(
        Job.business_id == business, col(Job.status).in_(("queued", "running", "failed")),
        payload_message.in_(ids)).returning(payload_message).execution_options(**_PLAIN)).scalars().all()))
    tally("webhook_payloads_cleared", event_of, chunked(event_of, lambda ids: session.exec(update(WebhookEvent).where(
        WebhookEvent.provider == "twilio", col(WebhookEvent.event_id).in_(ids)).values(payload={"erased": True})
        .returning(WebhookEvent.event_id).execution_options(**_PLAIN)).scalars().all()))
    tally("request_records_scrubbed", request_of, (c for c, in by_customer(lambda ids: update(PrivacyRequest).where(
        PrivacyRequest.business_id == business, col(PrivacyRequest.customer_id).in_(ids))
        .values(requester_name=None, requester_contact=None).returning(PrivacyRequest.customer_id))))
    tally("customers", request_of, (c for c, in by_customer(lambda ids: delete(Customer).where(
        Customer.business_id == business, col(Customer.id).in_(ids)).returning(Customer.id))))
    for row in rows:
        row.requester_name = row.requester_contact = None
        cps[row.id]["database"] = counts[row.id]


def providers(cp: dict[str, Any], erasers: ProviderErasers) -> str | None:
    """Delete the person's records at the providers, keeping progress; the failure, if any."""
    done = set(cp.get("providers_done", []))
    failure = None
    try:
        for sid in cp.get("provider_sids", []):
            if sid not in done:
                erasers.delete_message(sid)
                done.add(sid)
        for ref in cp.get("media_refs", []):
            if ref not in done:
                erasers.delete_media(ref)
                done.add(ref)
    except Exception as exc:  # a provider failed: keep the progress, resume later
        failure = f"A provider did not confirm a deletion ({type(exc).__name__}); run the erasure again."
    cp["providers_done"] = sorted(done)
    cp["providers"] = {"service": erasers.message_service, "message_records": len(cp.get("provider_sids", [])),
                       "media": len(cp.get("media_refs", []))}
    return failure


def verification(session: Session, rows: Sequence[PrivacyRequest], cps: Checkpoints,
                 in_flight: Sequence[int]) -> dict[int, str]:
    """Scan for every person at once; a request with findings fails with the places found.

    The checkpoints of the requests run together (``in_flight``) hold their working
    copies of the identifiers, wiped by the certificate step, so none of them is a trace.
    A hit in a platform row that concerns the business (an unapplied text to its number)
    is neither the business's to see nor to remove: it goes to the operators' audit log,
    by row id, and never stops the request.
    """
    started = time.perf_counter()
    business = rows[0].business_id
    skip = {("privacy_requests", "checkpoint", str(request_id)) for request_id in in_flight}
    people = {row.id: cps[row.id]["subject"]["needles"] for row in rows}
    if len(rows) == 1:
        [(request_id, needles)] = people.items()
        found = {request_id: scan(session, business_id=business, needles=needles, skip=skip)}
    else:
        found = scan_many(session, business_id=business, people=people, skip=skip)
    seconds = round(time.perf_counter() - started, 3)
    failures: dict[int, str] = {}
    for row in rows:
        findings = [f for f in found[row.id] if not f.platform]
        cps[row.id]["verification"] = {"hits": len(findings), "seconds": seconds, "people_in_pass": len(rows),
                                       "findings": [_place(f) for f in findings]}
        _tell_operators(session, row, [f for f in found[row.id] if f.platform])
        if findings:
            places = ", ".join(sorted({f"{f.table}.{f.column} ({f.matched})" for f in findings}))
            failures[row.id] = (f"Verification found {len(findings)} remaining trace(s) of the person: {places}. "
                                "The request stays in progress; remove them and run the erasure again.")
    return failures


def _place(finding: Finding) -> dict[str, str]:
    return {"table": finding.table, "column": finding.column, "row": finding.row, "matched": finding.matched}


def _tell_operators(session: Session, row: PrivacyRequest, found: list[Finding]) -> None:
    """A platform event (no business's log) naming the request and the platform rows that still hold something
    of the person: their places and ids, never what they hold."""
    if not found:
        return
    ids = ""
    for row_id in sorted({f.row for f in found}, key=lambda r: (len(r), r)):  # as many as the detail holds
        if len(ids) + len(row_id) + 1 > 80:
            break
        ids = f"{ids},{row_id}" if ids else row_id
    audit.record(session, actor=SYSTEM, action="privacy.erasure.platform_traces", target_type="privacy_request",
                 target_id=row.id, flush=False, detail={
                     "business_id": row.business_id, "hits": len(found), "rows": ids,
                     "places": ", ".join(sorted({f"{f.table}.{f.column}" for f in found}))[:80]})


def certificate(row: PrivacyRequest, cp: dict[str, Any], actor: Actor) -> None:
    """What was removed where, counts, times and who ran it; the identifiers leave the checkpoint."""
    now = utcnow()
    row.certificate = {
        "request": row.id, "business": row.business_id, "subject": row.subject_ref, "kind": "erasure",
        "removed": {"database": cp.get("database", {}), "providers": cp.get("providers", {})},
        "verification": {"hits": cp["verification"]["hits"], "seconds": cp["verification"]["seconds"],
                         "people_in_pass": cp["verification"].get("people_in_pass", 1),
                         "scope": "every text and JSON column of the business's rows in every table"},
        "started_at": cp.get("started_at"), "completed_at": now.isoformat(), "run_by": actor.label,
    }
    cp.pop("subject", None)
    row.status, row.completed_at = "completed", now
    row.response = row.response or "Erased; completion certificate issued."
