"""Customers CSV: import (report, duplicates, idempotence, never half-writes, set-based
writes and the phone reader giving the row-by-row answers) and export (streamed,
neutralised, round trip, owners only, audited), and the operator commands."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaimen_core import customers, db
from kaimen_core.customers import _csv_import, _csv_write
from kaimen_core.customers._phones import PhoneReader, _quick_valid
from kaimen_core.exceptions import Conflict, PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, ConsentEvent, Customer
from kaimen_core.validators import clean_phone
from tests.factories import count, make_business, make_staff, rows

ROOT = Path(__file__).resolve().parents[2]
HEADER = "name,phone,email,tags,marketing_consent,marketing_consent_source,marketing_consent_date\n"
MAPPING = {"name": "name", "phone": "phone", "email": "email", "tags": "tags", "marketing_consent": "marketing_consent",
           "marketing_consent_source": "marketing_consent_source", "marketing_consent_date": "marketing_consent_date"}


def _import(actor, data: bytes, mapping=MAPPING, **kwargs) -> customers.ImportReport:
    with db.tenant_session(actor) as session:
        return customers.import_customers(session, actor=actor, data=data, mapping=mapping, **kwargs)


def _export(actor, query=None) -> bytes:
    out = io.BytesIO()
    with db.tenant_session(actor) as session:
        customers.export_customers(session, actor=actor, out=out, query=query)
    return out.getvalue()


def _customers(business_id):
    return sorted(rows(Customer, Customer.business_id == business_id), key=lambda c: c.phone_e164 or "")


def test_every_kind_of_bad_row_is_reported_with_line_column_and_reason(database):
    tenant = make_business()
    data = (HEADER +
            "Ana Ruiz,(212) 555-0134,ana@example.com,vip,yes,in person,2026-01-05\n"
            ",2125550135,,,,,\n"
            "Bo,555-01,,,,,\n"
            "Cy,2125550136,not-an-email,,,,\n"
            "Di,2125550137,,,yes,,2026-01-05\n"
            "Ed,2125550138,,,yes,carrier pigeon,2026-01-05\n"
            "Fa,2125550139,,,yes,web form,05/01/2026\n"
            "Gu,2125550140,,,perhaps,,\n"
            "Ha,,,,,,\n"
            "Io,2125550141,,,,,,extra\n").encode()
    report = _import(tenant.owner, data, dry_run=True)
    assert [(i.line, i.column) for i in report.issues] == [
        (3, "name"), (4, "phone"), (5, "email"), (6, "marketing_consent_source"), (7, "marketing_consent_source"),
        (8, "marketing_consent_date"), (9, "marketing_consent"), (10, "phone"), (11, None)]
    assert "not a valid phone number" in report.issues[1].reason
    assert (report.rows, report.created, report.refused, report.written) == (10, 1, 9, False)
    assert count(Customer, Customer.business_id == tenant.business_id) == 0  # a check writes nothing

    report = _import(tenant.owner, data)
    [ana] = _customers(tenant.business_id)
    assert (ana.name, ana.phone_e164, ana.tags, ana.marketing_consent, ana.marketing_consent_method) == (
        "Ana Ruiz", "+12125550134", ["vip"], True, "in_person")
    [event] = rows(ConsentEvent, ConsentEvent.customer_id == ana.id)
    assert (event.kind, event.granted, event.method, event.captured_by_user_id) == (
        "marketing", True, "in_person", tenant.owner.user_id)
    [audited] = rows(AuditEvent, AuditEvent.action == "customers.imported")
    assert audited.detail == {"rows": 10, "created": 1, "updated": 0, "unchanged": 0, "skipped": 0,
                              "refused": 9, "via": "page"}
    assert "Ana" not in repr(audited.detail)


def test_marketing_consent_needs_its_source_and_date_columns(database):
    tenant = make_business()
    with pytest.raises(ValidationError, match="only with its source and date"):
        _import(tenant.owner, b"name,phone,marketing_consent\nAna,2125550134,yes\n",
                {"name": "name", "phone": "phone", "marketing_consent": "marketing_consent"})
    for field in ("id", "business_id", "opted_out_at"):
        with pytest.raises(ValidationError, match="cannot be imported"):
            _import(tenant.owner, b"name,phone,x\nAna,2125550134,1\n", {"name": "name", "phone": "phone", "x": field})


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8", ","), ("utf-8-sig", ";"), ("latin-1", "\t")])
def test_encodings_and_delimiters(database, encoding, delimiter):
    tenant = make_business()
    text = delimiter.join(["Nombre", "Teléfono", "Email"]) + "\r\n" + delimiter.join(
        ["José Núñez", "212 555 0134", "jose@example.com"]) + "\r\n"
    parsed = customers.read_csv(text.encode(encoding))
    mapping = customers.suggest_mapping(parsed.headers)
    assert mapping == {"Nombre": "name", "Teléfono": None, "Email": "email"}
    mapping["Teléfono"] = "phone"
    report = _import(tenant.owner, text.encode(encoding), mapping)
    assert report.created == 1
    assert _customers(tenant.business_id)[0].name == "José Núñez"


def test_duplicates_in_the_file_and_existing_update_or_skip_and_reimport_changes_nothing(database):
    tenant = make_business()
    first = (HEADER + "Ana,2125550134,,,,,\nBo,2125550135,,,,,\nAna Ruiz,212-555-0134,,,,,\n").encode()
    report = _import(tenant.owner, first, on_duplicate="update")
    assert (report.created, report.skipped) == (2, 1)
    assert [c.name for c in _customers(tenant.business_id)] == ["Ana Ruiz", "Bo"]  # the later row won
    before = [c.model_dump() for c in _customers(tenant.business_id)]
    again = _import(tenant.owner, first, on_duplicate="update")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert [c.model_dump() for c in _customers(tenant.business_id)] == before

    changed = (HEADER + "Ana Maria,2125550134,ana@example.com,,,,\n").encode()
    assert _import(tenant.owner, changed, on_duplicate="skip").skipped == 1
    assert _customers(tenant.business_id)[0].name == "Ana Ruiz"
    assert _import(tenant.owner, changed, on_duplicate="update").updated == 1
    ana = _customers(tenant.business_id)[0]
    assert (ana.name, ana.email) == ("Ana Maria", "ana@example.com")
    assert [c.id for c in customers_search(tenant.owner, "ana@")] == [ana.id]


def customers_search(actor, query):
    with db.tenant_session(actor) as session:
        return customers.search_customers(session, actor=actor, query=query).customers


def test_the_size_limit_is_clear(database):
    tenant = make_business()
    with pytest.raises(ValidationError, match=r"the limit is 1 MB"):
        _import(tenant.owner, b"name,phone\n" + b"x" * (1024 * 1024 + 10), {"name": "name", "phone": "phone"},
                max_bytes=1024 * 1024)


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
phones = st.one_of(cells, st.sampled_from(["2125550134", "+44 7911 123456", "(212) 555-0199", "+1212", "0"]))
flags = st.one_of(cells, st.sampled_from(["yes", "no", ""]))
dates = st.one_of(cells, st.sampled_from(["2026-01-05", "2999-01-01", ""]))
row = st.tuples(cells, phones, cells, cells, flags, st.sampled_from(["in person", "web_form", "", "x"]), dates)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(row, max_size=6), extra=st.booleans())
def test_any_file_imports_each_row_or_reports_it_never_crashes_never_half_writes(database, data, extra):
    tenant = make_business()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER.strip().split(","))
    writer.writerows([[*r, "surplus"] if extra and i == 0 else list(r) for i, r in enumerate(data)])
    payload = buffer.getvalue().encode()
    try:
        report = _import(tenant.owner, payload)
    except ValidationError:  # the file as a whole refused (e.g. not CSV): nothing written
        assert count(Customer, Customer.business_id == tenant.business_id) == 0
        return
    reported = {issue.line for issue in report.issues}
    assert report.created + report.updated + report.unchanged + report.skipped + report.refused == report.rows
    assert report.created == count(Customer, Customer.business_id == tenant.business_id)
    assert len(reported) == report.refused + report.skipped


def test_a_failure_while_writing_leaves_nothing_written(database, monkeypatch):
    tenant = make_business()
    monkeypatch.setattr(_csv_write, "_CHUNK", 1)  # one customer per statement
    written: list[float] = []

    def fail_after_the_first_customer(done: float) -> None:
        written.append(done)
        if done > _csv_import._CHECKED:
            raise RuntimeError("disk full")

    data = (HEADER + "Ana,2125550134,,,yes,in person,2026-01-05\nBo,2125550135,,,,,\n").encode()
    with pytest.raises(RuntimeError):
        _import(tenant.owner, data, progress=fail_after_the_first_customer)
    assert written[-1] == pytest.approx(_csv_import._CHECKED + (1 - _csv_import._CHECKED) / 2)  # one of two written
    assert count(Customer, Customer.business_id == tenant.business_id) == 0
    assert count(ConsentEvent, ConsentEvent.business_id == tenant.business_id) == 0
    assert count(AuditEvent, AuditEvent.action == "customers.imported") == 0


def _by_phone(business_id) -> dict[str, Customer]:
    return {c.phone_e164 or c.email: c for c in _customers(business_id)}


def test_chunked_writes_progress_updates_and_consent_events(database, monkeypatch):
    tenant = make_business()
    for module, name in ((_csv_write, "_CHUNK"), (_csv_write, "_LOOKUP_CHUNK"), (_csv_import, "_PROGRESS_EVERY")):
        monkeypatch.setattr(module, name, 2)  # every set crosses chunk boundaries
    lines = ["Ana,2125550134,ana@example.com,vip,yes,web form,2026-01-05", "Bo,2125550135,,,,,",
             "Cy,,cy@example.com,,,,", "Di,2125550137,,regular; vip,no,,", "Ed,2125550138,,,yes,in person,2026-01-06"]
    first = (HEADER + "\n".join(lines) + "\n").encode()
    seen: list[float] = []
    report = _import(tenant.owner, first, progress=seen.append)
    assert (report.created, report.refused, report.written) == (5, 0, True)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 5
    before = _by_phone(tenant.business_id)
    assert before["+12125550134"].search_text == "ana ana@example.com 12125550134 #vip"
    assert count(ConsentEvent, ConsentEvent.business_id == tenant.business_id) == 2

    again = _import(tenant.owner, first)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert _by_phone(tenant.business_id) == before  # nothing rewritten, updated_at included

    lines[1] = "Bo Chen,2125550135,,,,,"  # a new name
    lines[2] = "Cy,,cy@example.com,new,,,"  # found by email, gains a tag
    lines[3] = "Di,2125550137,,regular; vip,yes,paper form,2026-01-07"  # marketing consent given
    changed = _import(tenant.owner, (HEADER + "\n".join(lines) + "\n").encode())
    assert (changed.created, changed.updated, changed.unchanged) == (0, 3, 2)
    after = _by_phone(tenant.business_id)
    assert (after["+12125550135"].name, after["cy@example.com"].tags) == ("Bo Chen", ["new"])
    assert (after["+12125550137"].marketing_consent, after["+12125550137"].marketing_consent_method) == (
        True, "paper_form")
    assert after["cy@example.com"].search_text == "cy cy@example.com  #new"
    for key in ("+12125550134", "+12125550138"):
        assert after[key].updated_at == before[key].updated_at
    for key in ("+12125550135", "cy@example.com", "+12125550137"):
        assert after[key].updated_at > before[key].updated_at and after[key].id == before[key].id
    events = rows(ConsentEvent, ConsentEvent.customer_id == after["+12125550137"].id)
    assert [(e.granted, e.method) for e in events] == [(True, "paper_form")]


def test_a_customer_found_by_phone_and_by_email_takes_the_later_line(database):
    tenant = make_business()
    _import(tenant.owner, (HEADER + "Ana,2125550134,ana@example.com,,,,\n").encode())
    report = _import(tenant.owner, (HEADER + "Ana Ruiz,2125550134,,,,,\nAna Maria,,ana@example.com,x,,,\n").encode())
    assert (report.created, report.updated) == (0, 2)
    [ana] = _customers(tenant.business_id)
    assert (ana.name, ana.tags, ana.phone_e164) == ("Ana Maria", ["x"], "+12125550134")


STREAMED = (HEADER + "Ana,2125550134,ana@example.com,vip,yes,web form,2026-01-05\nBo,2125550135,,,,,\n"
            "Bad,555,,,,,\nCy,,cy@example.com,,,,\nAna again,212-555-0134,,,,,\nDi,2125550137,,,yes,in person,"
            "2026-01-06\nCy again,,cy@example.com,x,,,\nEd,2125550138,,,,,\n").encode()


def _outcome(tenant, report) -> tuple:
    people = [(c.name, c.phone_e164, c.email, c.tags, c.marketing_consent, c.marketing_consent_method)
              for c in _customers(tenant.business_id)]
    events = sorted((e.granted, e.method) for e in rows(ConsentEvent, ConsentEvent.business_id == tenant.business_id))
    return (report.rows, report.created, report.updated, report.unchanged, report.skipped, report.refused,
            [(i.line, i.column, i.reason, i.outcome) for i in report.issues], people, events)


@pytest.mark.parametrize("on_duplicate", ["skip", "update"])
def test_a_long_file_for_a_new_business_is_written_while_checked_with_the_same_outcome(
        database, monkeypatch, on_duplicate):
    whole, streamed = make_business(), make_business()
    expected = _outcome(whole, _import(whole.owner, STREAMED, on_duplicate=on_duplicate))
    monkeypatch.setattr(_csv_import, "_STREAM_CHUNK", 2)  # "long": more than two rows; chunks of two
    chunks: list[int] = []
    real_write = _csv_import.write_rows
    monkeypatch.setattr(_csv_import, "write_rows", lambda *a, **k: chunks.append(len(k["created"])) or real_write(
        *a, **k))
    seen: list[float] = []
    assert _outcome(streamed, _import(streamed.owner, STREAMED, on_duplicate=on_duplicate,
                                      progress=seen.append)) == expected
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    if database.kind == "sqlite":
        assert len(chunks) == 1  # SQLite: the whole file is checked first
    elif on_duplicate == "skip":
        assert chunks == [2, 1, 1, 1]  # each chunk written while the next was checked
    else:  # the later "Ana again" replaces an earlier chunk's row: undone, then the whole file at once
        assert chunks[-1] == 5 and sum(chunks[:-1]) == 3
    [audited] = rows(AuditEvent, AuditEvent.action == "customers.imported", AuditEvent.business_id ==
                     streamed.business_id)
    assert audited.detail["created"] == expected[1]


def test_a_failure_while_writing_a_streamed_file_leaves_nothing_written(database, monkeypatch):
    if database.kind != "postgres":
        pytest.skip("SQLite checks the whole file before writing anything")
    tenant = make_business()
    monkeypatch.setattr(_csv_import, "_STREAM_CHUNK", 2)
    real_write = _csv_write.write_rows
    calls: list[int] = []

    def second_write_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(_csv_import, "write_rows", second_write_fails)
    with pytest.raises(RuntimeError):
        _import(tenant.owner, STREAMED, on_duplicate="skip")
    assert count(Customer, Customer.business_id == tenant.business_id) == 0
    assert count(ConsentEvent, ConsentEvent.business_id == tenant.business_id) == 0


def test_an_import_sees_and_changes_only_its_own_business(database):
    tenant, other = make_business(), make_business()
    _import(other.owner, (HEADER + "Theirs,2125550134,shared@example.com,,,,\n").encode())
    theirs = _customers(other.business_id)
    report = _import(tenant.owner, (HEADER + "Mine,2125550134,,,,,\nAlso mine,,shared@example.com,,,,\n").encode())
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert [c.name for c in _customers(tenant.business_id)] == ["Also mine", "Mine"]
    assert _customers(other.business_id) == theirs


def test_a_customer_added_while_importing_refuses_the_whole_import(database, monkeypatch):
    tenant = make_business()
    _import(tenant.owner, (HEADER + "Ana,2125550134,,,,,\n").encode())
    # As if another transaction had added the customer after this one looked.
    monkeypatch.setattr(_csv_import, "existing_customers", lambda *args: ({}, {}))
    with pytest.raises(Conflict, match="Import the file again"):
        _import(tenant.owner, (HEADER + "Bo,2125550135,,,,,\nAna,2125550134,,,,,\n").encode())
    assert [c.name for c in _customers(tenant.business_id)] == ["Ana"]


def test_a_customer_deleted_while_importing_refuses_the_whole_import(database, monkeypatch):
    tenant = make_business()
    _import(tenant.owner, (HEADER + "Ana,2125550134,,,,,\nBo,2125550135,,,,,\n").encode())
    real = _csv_import.existing_customers

    def with_a_vanished_customer(*args):
        by_phone, by_email = real(*args)
        by_phone["+12125550135"] = {**by_phone["+12125550135"], "id": -1}  # as if deleted after the lookup
        return by_phone, by_email

    monkeypatch.setattr(_csv_import, "existing_customers", with_a_vanished_customer)
    with pytest.raises(Conflict, match="deleted while the file was importing"):
        _import(tenant.owner, (HEADER + "Ana Ruiz,2125550134,,,,,\nBo Chen,2125550135,,,,,\n").encode())
    assert [c.name for c in _customers(tenant.business_id)] == ["Ana", "Bo"]


REGIONS = ["US", "CA", "GB", "IM", "DE", "FR", "IT", "ES", "AU", "RU", "KZ", "IN", "BR", "MX", "JP"]
PHONE_TEXTS = st.one_of(
    st.text(alphabet="0123456789 +()-.x", max_size=20),
    st.sampled_from(["(212) 555-0134", "+1 416 555 0123", "416-555-0123", "+44 1624 456789", "+44 7911 123456",
                     "07911 123456", "+39 06 1234 5678", "06 1234 5678", "+7 701 123 4567", "+7 495 123-45-67",
                     "+1 684 733 1234", "+1 868 555 1234", "1-800-555-0199", "+61 2 9374 4000", "+12125550134"]),
)


@settings(max_examples=400, deadline=None)
@given(text=PHONE_TEXTS, region=st.sampled_from(REGIONS))
def test_the_import_phone_reader_answers_exactly_as_clean_phone(text, region):
    try:
        expected: str | ValidationError | None = clean_phone(text, region=region, required=False)
    except ValidationError as exc:
        expected = exc
    reader = PhoneReader(region)
    for _ in range(2):  # the second answer comes from the reader's memory
        try:
            got: str | ValidationError | None = reader(text)
        except ValidationError as exc:
            got = exc
        if isinstance(expected, ValidationError):
            assert isinstance(got, ValidationError) and (str(got), got.field) == (str(expected), expected.field)
        else:
            assert got == expected


@settings(max_examples=600, deadline=None)
@given(country_code=st.sampled_from([1, 7, 33, 39, 44, 47, 49, 52, 55, 61, 81, 86, 91, 262, 290, 590, 599, 800, 882]),
       national=st.integers(10**3, 10**12), leading_zeros=st.integers(0, 2))
def test_the_quick_validity_check_agrees_with_phonenumbers(country_code, national, leading_zeros):
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=national,
                                      italian_leading_zero=leading_zeros > 0 or None,
                                      number_of_leading_zeros=leading_zeros or None)
    quick = _quick_valid(number)
    assert quick is None or quick == phonenumbers.is_valid_number(number)


def test_the_quick_validity_check_answers_the_common_cases():
    assert _quick_valid(phonenumbers.parse("(212) 555-0134", "US")) is True
    assert _quick_valid(phonenumbers.parse("+44 7400 123456", "GB")) is True  # +44 is shared: GB comes first
    assert _quick_valid(phonenumbers.parse("+44 7911 123456", "GB")) is None  # Jersey's: phonenumbers' own check
    assert _quick_valid(phonenumbers.parse("+33 6 12 34 56 78", "FR")) is True
    assert _quick_valid(phonenumbers.parse("+33 0 12", "FR")) is False  # one region: a definite no
    assert _quick_valid(phonenumbers.parse("416-555-0123", "CA")) is None  # Canada: phonenumbers' own check


INJECTION = ["=HYPERLINK(\"http://evil\")", "+SUM(1)", "-2+3", "@cmd", "\tTabbed", "'=quoted", "Plain, \"quoted\"",
             "Multi\nline"]


def test_export_neutralises_formulas_quotes_rfc4180_has_a_bom_and_round_trips(database):
    tenant = make_business()
    with db.tenant_session(tenant.owner) as session:
        for i, text in enumerate(INJECTION):
            c = customers.create_customer(session, actor=tenant.owner, name=f"Name {i}", phone=f"21255501{i:02d}",
                                          notes=text, tags=["=1+1", "vip"] if i == 0 else [], email=None)
        customers.record_consent(session, actor=tenant.owner, customer_id=c.id, kind="marketing", granted=True,
                                 method="web_form", wording="Yes to offers")
    data = _export(tenant.owner)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(data[3:].decode())))
    assert [r["notes"] for r in parsed] == ["'=HYPERLINK(\"http://evil\")", "'+SUM(1)", "'-2+3", "'@cmd",
                                            "Tabbed", "''=quoted", "Plain, \"quoted\"", "Multi\nline"]
    assert parsed[0]["phone"] == "'+12125550100" and parsed[0]["tags"] == "'=1+1; vip"
    assert (parsed[-1]["marketing_consent"], parsed[-1]["marketing_consent_source"]) == ("yes", "web_form")
    for r in parsed:
        assert not r["name"].startswith(("=", "+", "-", "@"))
    [event] = rows(AuditEvent, AuditEvent.action == "customers.exported")
    assert event.detail == {"rows": len(INJECTION), "filtered": False, "via": "page"}

    other = make_business()
    report = _import(other.owner, data, customers.suggest_mapping(customers.read_csv(data).headers))
    assert report.created == len(INJECTION) and report.refused == 0
    fields = ("name", "phone_e164", "email", "notes", "tags", "marketing_consent", "marketing_consent_method",
              "marketing_consent_at")
    assert [[getattr(c, f) for f in fields] for c in _customers(other.business_id)] == [
        [getattr(c, f) for f in fields] for c in _customers(tenant.business_id)]
    assert _import(other.owner, data, customers.suggest_mapping(customers.read_csv(data).headers)).unchanged == 8


@pytest.mark.parametrize(("cell", "safe"), [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"),
                                            ("\tx", "'\tx"), ("\rx", "'\rx"), ("\nx", "'\nx"), ("'=x", "''=x"),
                                            ("'plain", "'plain"), ("a=b", "a=b"), ("", "")])
def test_neutralise_and_its_inverse(cell, safe):
    assert customers.neutralise(cell) == safe
    assert customers.unneutralise(safe) == cell


def test_export_of_a_search_and_restricted_customers_are_left_out(database):
    tenant = make_business()
    with db.tenant_session(tenant.owner) as session:
        for name, phone in [("Ana", "2125550134"), ("Bo", "2125550135"), ("Ana Secret", "2125550136")]:
            customers.create_customer(session, actor=tenant.owner, name=name, phone=phone)
    with db.system_session() as session:
        secret = session.exec(__import__("sqlmodel").select(Customer).where(Customer.name == "Ana Secret")).one()
        secret.restricted_at = secret.created_at
        session.add(secret)
    names = [r["name"] for r in csv.DictReader(io.StringIO(_export(tenant.owner, query="ana")[3:].decode()))]
    assert names == ["Ana"]
    for literal in ("it's", "a_b%", "back\\slash"):  # quoted and escaped safely inside COPY
        assert _export(tenant.owner, query=literal)[3:].decode().splitlines()[1:] == []


def test_staff_cannot_export_or_import(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    with pytest.raises(PermissionDenied):
        _export(staff)
    with pytest.raises(PermissionDenied):
        _import(staff, HEADER.encode())
    assert count(AuditEvent, AuditEvent.action.in_(["customers.exported", "customers.imported"])) == 0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "kaimen_core", *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ), timeout=60, check=False)


def test_operator_commands_import_and_export_for_one_business_audited(database, tmp_path):
    tenant = make_business("Cli Salon")
    make_business("Someone Else")
    from kaimen_core.models import Business

    [slug] = [b.slug for b in rows(Business, Business.id == tenant.business_id)]
    source = tmp_path / "in.csv"
    source.write_bytes((HEADER + "Ana,2125550134,,,,,\nBad,123,,,,,\n").encode())
    dry = _cli("import-customers", "--business", slug, "--file", str(source), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "line 3 [phone]: refused:" in dry.stdout and "created 1" in dry.stdout
    assert count(Customer, Customer.business_id == tenant.business_id) == 0
    done = _cli("import-customers", "--business", slug, "--file", str(source), "--on-duplicate", "skip")
    assert done.returncode == 0 and count(Customer, Customer.business_id == tenant.business_id) == 1
    out = tmp_path / "out.csv"
    exported = _cli("export-customers", "--business", slug, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "Exported 1 customers" in exported.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbfname,phone")
    actions = [e.action for e in rows(AuditEvent, AuditEvent.business_id == tenant.business_id)]
    assert actions.count("operator.cli_access") == 3
    assert {"customers.imported", "customers.exported"} <= set(actions)
    missing = _cli("export-customers", "--business", "no-such-slug", "--out", str(out))
    assert missing.returncode == 1 and "No business has the slug" in missing.stderr
