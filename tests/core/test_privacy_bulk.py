"""Bulk erasure for operators: the command line, the request-file format, batches and resuming."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kaimen_core import auth, cli, db, privacy
from kaimen_core.actors import Origin
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import (
    AuditEvent,
    Booking,
    ConsentEvent,
    Customer,
    EnforcementAction,
    Job,
    Message,
    PrivacyRequest,
    StaffMember,
    SuppressionEntry,
    WebhookEvent,
)
from kaimen_core.privacy import _erasure_steps
from tests.factories import PASSWORD, count, make_business, make_staff, rows


def _verified_deletion(tenant, *, phone: str) -> int:
    with db.system_session() as session:
        session.add(Customer(business_id=tenant.business_id, name=f"Person {phone[-4:]}", phone_e164=phone))
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="gdpr", channel="email",
                                      requester_name="Someone", phone=phone)
        privacy.verify_identity(session, actor=tenant.owner, request_id=view.id, method="Code by text")
    return view.id


def test_request_files_take_one_id_a_line_with_comments(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("# from the March batch\n12\n7, 9\n\n12\n")
    assert privacy.read_request_ids(path) == [12, 7, 9]
    path.write_text("12\nabc\n")
    with pytest.raises(ValidationError, match=r"line 2: 'abc' is not a request id"):
        privacy.read_request_ids(path)
    with pytest.raises(ValidationError, match="Cannot read"):
        privacy.read_request_ids(tmp_path / "missing.txt")


def test_the_command_line_erases_every_request_in_a_file_and_reports_progress(database, tmp_path, capsys):
    a, b = make_business(), make_business()
    first = _verified_deletion(a, phone="+12125550101")
    second = _verified_deletion(b, phone="+12125550102")
    path = tmp_path / "ids.txt"
    path.write_text(f"{first}\n{second}\n")

    assert cli.main(["privacy", "erase", "--requests-file", str(path)]) == 0

    out = capsys.readouterr().out
    assert f"[1/2] request {first}: completed" in out and f"[2/2] request {second}: completed" in out
    assert "2 erased, 0 failed." in out
    assert count(Customer) == 0
    assert {r.status for r in rows(PrivacyRequest)} == {"completed"}
    assert {e.actor_label for e in rows(AuditEvent, AuditEvent.action == "privacy.erasure.certificate")} == {
        "operator:command-line"}
    # Running it again is harmless.
    assert cli.main(["privacy", "erase", "--request", str(first)]) == 0


def test_a_request_that_cannot_run_is_reported_and_the_rest_still_run(database, capsys):
    tenant = make_business()
    good = _verified_deletion(tenant, phone="+12125550103")
    with db.tenant_session(tenant.owner) as session:
        access = privacy.record_request(session, actor=tenant.owner, kind="access", regime="gdpr", channel="email",
                                        requester_name="Someone", phone="+12125550103")
    path_ids = [access.id, good]
    results = privacy.erase_requests(path_ids, actor=privacy.COMMAND_LINE_OPERATOR)
    assert [(r.request_id, r.status) for r in results] == [(access.id, "failed"), (good, "completed")]
    assert results[0].detail == "Only a deletion request runs an erasure."
    assert cli.main(["privacy", "erase", "--request", str(access.id)]) == 1
    assert "Run the same command again" in capsys.readouterr().err


# --- many requests at once: batches, one verification pass, resuming ------------------------


class Providers:
    """Records provider deletions; ``crash_at`` raises KeyboardInterrupt (a killed process) before that call."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.deleted: list[str] = []
        self.calls = 0
        self.crash_at = crash_at

    def delete(self, ref: str) -> None:
        self.calls += 1
        if self.calls == self.crash_at:
            raise KeyboardInterrupt
        self.deleted.append(ref)

    @property
    def erasers(self) -> privacy.ProviderErasers:
        return privacy.ProviderErasers(delete_message=self.delete, delete_media=self.delete, message_service="fake")


def _person(tenant, n: int, *, opted_out: bool = False) -> int:
    """A customer with texts (one at the provider, with a pending job and a stored webhook), a booking and
    consent history; returns a verified deletion request for them."""
    b, now = tenant.business_id, datetime.now(UTC)
    phone, name = f"+1212555{n:04d}", f"Person{n} Tester"
    with db.system_session() as session:
        staff = StaffMember(business_id=b, name=f"Staff {n}")
        person = Customer(business_id=b, name=name, phone_e164=phone, email=f"person{n}@example.com",
                          notes=f"{name} likes tea", opted_out_at=now if opted_out else None)
        session.add_all([staff, person])
        session.flush()
        sent = Message(business_id=b, customer_id=person.id, direction="outbound", status="queued",
                       body=f"See you soon {name}", provider_sid=f"SMb{b}n{n}",
                       media=[{"ref": f"local:mms/{b}-{n}.jpg", "content_type": "image/jpeg"}])
        session.add_all([
            sent, Message(business_id=b, customer_id=person.id, direction="inbound", status="received",
                          body=f"call me on {phone}"),
            ConsentEvent(business_id=b, customer_id=person.id, kind="opt_out", granted=False, method="keyword",
                         wording=f"STOP from {phone}"),
            Booking(business_id=b, customer_id=person.id, staff_id=staff.id, notes=f"{name} prefers mornings",
                    start_at=now + timedelta(days=n), end_at=now + timedelta(days=n, minutes=30), status="booked"),
            WebhookEvent(provider="twilio", event_id=f"SMb{b}n{n}:delivered", business_id=b, kind="sms.status",
                         payload={"To": phone, "MessageStatus": "delivered"}),
        ])
        session.flush()
        session.add(Job(business_id=b, kind="send_message", payload={"message_id": sent.id}))
    with db.tenant_session(tenant.owner) as session:
        view = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="gdpr", channel="email",
                                      requester_name=name, requester_contact=phone, phone=phone)
        privacy.verify_identity(session, actor=tenant.owner, request_id=view.id, method="Code by text")
    return view.id


def _traces(tenant, numbers) -> int:
    people = {n: privacy.needles_for(name=f"Person{n} Tester", phone_e164=f"+1212555{n:04d}",
                                     email=f"person{n}@example.com", region="US") for n in numbers}
    with db.system_session() as session:
        return sum(map(len, privacy.scan_many(session, business_id=tenant.business_id, people=people).values()))


def _certificates(request_ids) -> dict[int, dict]:
    found = {r.id: r.certificate for r in rows(PrivacyRequest, PrivacyRequest.id.in_(request_ids))}
    return {i: found[i] for i in request_ids}


EXPECTED_REMOVED = {"messages": 2, "consent_events": 1, "bookings_detached": 1, "jobs": 1,
                    "webhook_payloads_cleared": 1, "request_records_scrubbed": 1, "customers": 1}


def test_a_bulk_run_counts_what_it_removed_per_request_exactly_as_one_at_a_time(database, monkeypatch):
    monkeypatch.setattr(_erasure_steps, "_CHUNK", 2)  # long IN lists are cut into slices: cross their edges
    one_by_one, together = make_business(), make_business()
    singles = [_person(one_by_one, n, opted_out=n % 2 == 0) for n in range(4)]
    batch = [_person(together, n, opted_out=n % 2 == 0) for n in range(4)]
    for request_id in singles:
        privacy.run_erasure(actor=one_by_one.owner, request_id=request_id, erasers=Providers().erasers)
    providers = Providers()

    results = privacy.erase_requests(batch, actor=together.owner, erasers=providers.erasers, batch_size=3)

    assert [r.status for r in results] == ["completed"] * 4
    alone, bulk = _certificates(singles), _certificates(batch)
    for n, (single, many) in enumerate(zip(alone.values(), bulk.values(), strict=True)):
        assert many["removed"] == single["removed"]
        kept = {"suppression_kept": 1} if n % 2 == 0 else {}  # the opted-out ones
        assert many["removed"]["database"] == {**EXPECTED_REMOVED, **kept}
    assert [c["verification"]["people_in_pass"] for c in bulk.values()] == [3, 3, 3, 1]
    assert sorted(providers.deleted) == sorted(f"{p}{together.business_id}{s}" for n in range(4)
                                               for p, s in (("SMb", f"n{n}"), ("local:mms/", f"-{n}.jpg")))
    assert _traces(together, range(4)) == 0
    assert count(Customer, Customer.business_id == together.business_id) == 0
    assert count(SuppressionEntry, SuppressionEntry.business_id == together.business_id) == 2


def test_a_trace_stops_only_the_request_it_belongs_to(database):
    tenant = make_business()
    ids = [_person(tenant, n) for n in range(3)]
    with db.system_session() as session:
        session.add(EnforcementAction(business_id=tenant.business_id, action="warn",
                                      reason="Complaint forwarded by person1@example.com"))
    results = privacy.erase_requests(ids, actor=tenant.owner, erasers=Providers().erasers)
    assert [r.status for r in results] == ["completed", "failed", "completed"]
    assert "enforcement_actions.reason (email)" in results[1].detail
    stopped = rows(PrivacyRequest, PrivacyRequest.id == ids[1])[0]
    assert stopped.status == "in_progress" and stopped.checkpoint["verification"]["hits"] == 1


def test_a_customer_named_after_another_owner_s_ip_address_is_erased_in_a_batch_without_a_word_of_it(database):
    rival = make_business()
    auth.sign_in(username=rival.username, password=PASSWORD, origin=Origin(ip_address="203.0.113.7"))
    tenant = make_business()
    ids = [_person(tenant, n) for n in range(3)]
    with db.system_session() as session:  # the business names a customer after the rival owner's address
        session.get(Customer, rows(PrivacyRequest, PrivacyRequest.id == ids[1])[0].customer_id).name = "203.0.113.7"

    results = privacy.erase_requests(ids, actor=tenant.owner, erasers=Providers().erasers)

    assert [r.status for r in results] == ["completed"] * 3
    assert not any("login_attempts" in r.detail for r in results)
    for record in rows(PrivacyRequest, PrivacyRequest.id.in_(ids)):
        assert record.checkpoint["verification"]["findings"] == []
        assert "login_attempts" not in repr(record.checkpoint) + repr(record.certificate)


def test_two_requests_for_one_customer_run_one_after_the_other(database):
    tenant = make_business()
    first = _person(tenant, 1)
    with db.tenant_session(tenant.owner) as session:
        again = privacy.record_request(session, actor=tenant.owner, kind="deletion", regime="ccpa", channel="email",
                                       requester_name="Person1 Tester", phone="+12125550001")
        privacy.verify_identity(session, actor=tenant.owner, request_id=again.id, method="Code by text")
    results = privacy.erase_requests([first, again.id], actor=tenant.owner, erasers=Providers().erasers)
    assert [r.status for r in results] == ["completed", "failed"]
    assert results[1].detail == "The customer this request concerns no longer exists; nothing to erase."


def test_a_bulk_run_killed_midway_resumes_and_completes_every_request_exactly_once(database):
    tenant = make_business()
    ids = [_person(tenant, n) for n in range(7)]
    # Batches of three; the process dies before the fifth provider call (the third request's text).
    killed = Providers(crash_at=5)
    progress: list[tuple[int, int, int]] = []
    with pytest.raises(KeyboardInterrupt):
        privacy.erase_requests(ids, actor=tenant.owner, erasers=killed.erasers, batch_size=3)
    assert {r.status for r in rows(PrivacyRequest)} == {"verified", "in_progress"}

    resumed = Providers()
    results = privacy.erase_requests(ids, actor=tenant.owner, erasers=resumed.erasers, batch_size=3,
                                     on_progress=lambda done, total, r: progress.append((done, total, r.request_id)))

    assert [r.status for r in results] == ["completed"] * 7
    assert [p[:2] for p in progress] == [(i, 7) for i in range(1, 8)]
    assert sorted(p[2] for p in progress) == sorted(ids)
    assert sorted(killed.deleted + resumed.deleted) == sorted(
        ref for n in range(7) for ref in (f"SMb{tenant.business_id}n{n}", f"local:mms/{tenant.business_id}-{n}.jpg"))
    certificates = _certificates(ids)
    assert all(c["removed"]["database"] == EXPECTED_REMOVED for c in certificates.values())
    done = [e.target_id for e in rows(AuditEvent, AuditEvent.action == "privacy.erasure.certificate")]
    assert sorted(done) == sorted(map(str, ids))  # each request completed exactly once
    assert _traces(tenant, range(7)) == 0


def test_a_crash_inside_a_batched_database_step_rolls_it_back_for_the_whole_batch(database, monkeypatch):
    tenant = make_business()
    ids = [_person(tenant, n) for n in range(4)]
    real = _erasure_steps.database

    def crashing(session, todo, cps):
        real(session, todo, cps)  # the deletions are made, then the process dies before the commit
        raise KeyboardInterrupt

    monkeypatch.setattr(_erasure_steps, "database", crashing)
    with pytest.raises(KeyboardInterrupt):
        privacy.erase_requests(ids, actor=tenant.owner, erasers=Providers().erasers)
    assert count(Customer, Customer.business_id == tenant.business_id) == 4  # nothing of the step stayed
    assert {tuple(r.checkpoint["done"]) for r in rows(PrivacyRequest)} == {("prepare",)}

    monkeypatch.setattr(_erasure_steps, "database", real)
    results = privacy.erase_requests(ids, actor=tenant.owner, erasers=Providers().erasers)
    assert [r.status for r in results] == ["completed"] * 4
    assert all(c["removed"]["database"] == EXPECTED_REMOVED for c in _certificates(ids).values())
    assert _traces(tenant, range(4)) == 0


def test_a_bulk_run_refuses_other_businesses_requests_and_staff(database):
    mine, theirs = make_business(), make_business()
    own, other = _person(mine, 1), _person(theirs, 2)
    staff, _ = make_staff(mine)
    refused = privacy.erase_requests([own], actor=staff, erasers=Providers().erasers)
    assert [(r.status, r.detail) for r in refused] == [("failed", "Only owner or operator users can do this.")]
    results = privacy.erase_requests([other, own], actor=mine.owner, erasers=Providers().erasers)
    assert [(r.request_id, r.status) for r in results] == [(other, "failed"), (own, "completed")]
    assert results[0].detail == "No such privacy request."
    assert rows(PrivacyRequest, PrivacyRequest.id == other)[0].status == "verified"
