"""Verification of many people in one pass reports exactly what the one-person scan reports."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from kaimen_core import db, privacy
from kaimen_core.models import (
    AuditEvent,
    Booking,
    Business,
    ConsentEvent,
    Customer,
    EnforcementAction,
    Job,
    LoginAttempt,
    Message,
    StaffMember,
    WebhookEvent,
)
from kaimen_core.privacy import _verify
from tests.factories import make_business, rows

# Several people of one business, chosen so that their identifiers overlap and nearly match.
PEOPLE = {
    "maria": ("Maria Lopez", "+12125550199", "maria.lopez@example.com"),
    "al": ("Al", "+12125550123", "al@example.com"),
    "ann": ("Ann Lee", "+442079460958", "ann@example.co.uk"),
    "mary-ann": ("Mary Ann Lee", "+12125550100", "MaryAnn@Example.com"),
    "jose": ("José Núñez", "+34912345678", "jose@example.es"),
    "nobody": ("Quentin Zed", "+13105550142", "q.zed@example.org"),
}
REGIONS = {"maria": "US", "al": "US", "ann": "GB", "mary-ann": "US", "jose": "ES", "nobody": "US"}

# Cells holding some of them, and near misses that must not count.
TEXTS = [
    "Hi it's Maria Lopez, call me on (212) 555-0199",  # name, phone in national format
    "call 212.555.0199 or +1 (212) 555 0123",  # dots and spaces: neither number in a form the scan knows
    "MARIA.LOPEZ@EXAMPLE.COM wrote in",  # email in another case
    "Sal from the Salon and Alan",  # "Al" only inside longer words
    "ask for Al.",  # "Al" as a whole word
    "Ann  Lee with two spaces; Annabel Leeds",  # not the name "Ann Lee"
    "Mary Ann Lee booked",  # Mary Ann Lee, and Ann Lee inside it as whole words
    "ref 0012125550100999",  # a number inside a longer run of digits
    "020 7946 0958 is the London line",  # national format (GB)
    "Jos\\u00e9 N\\u00fa\\u00f1ez in JSON",  # escaped inside JSON text
    "José Núñez in person",
    "maryann@example.com",  # email lower-cased
    "q.zed@example.org.uk",  # an email inside a longer one still contains it
]


def _needles(key: str) -> dict[str, list[str]]:
    name, phone, email = PEOPLE[key]
    return privacy.needles_for(name=name, phone_e164=phone, email=email, region=REGIONS[key])


def _seed_everywhere(tenant) -> None:
    """The texts in every table the business owns rows of, in platform rows that concern it (texts to its number
    not applied yet), and in platform rows that do not (sign-in attempts, texts to no business's number)."""
    b, now = tenant.business_id, datetime.now(UTC)
    with db.system_session() as session:
        session.get(Business, b).messaging_number = number = f"+1555555{b % 10000:04d}"
        staff = StaffMember(business_id=b, name="Sam Rivera", bio=TEXTS[0])
        session.add(staff)
        for i, (name, phone, email) in enumerate(PEOPLE.values()):
            person = Customer(business_id=b, name=name, phone_e164=phone, email=email.lower(),
                              notes=TEXTS[i % len(TEXTS)])
            session.add(person)
            session.flush()
            session.add(ConsentEvent(business_id=b, customer_id=person.id, kind="opt_out", granted=False,
                                     method="keyword", wording=TEXTS[(i + 1) % len(TEXTS)]))
        session.flush()
        for i, body in enumerate(TEXTS):
            message = Message(business_id=b, direction="inbound", status="received", body=body,
                              media=[{"ref": f"local:mms/{i}.jpg", "caption": body}])
            session.add(message)
            session.add(Booking(business_id=b, staff_id=staff.id, notes=body, status="completed",
                                start_at=now + timedelta(hours=i), end_at=now + timedelta(hours=i, minutes=30)))
            session.add(WebhookEvent(provider="twilio", event_id=f"SMv{b}x{i}", business_id=b, kind="sms.inbound",
                                     payload={"Body": body, "From": "+12125550199" if i % 3 == 0 else "+1999"}))
            session.add(EnforcementAction(business_id=b, action="warn", reason=body))
            session.add(AuditEvent(business_id=b, actor_label="system", action="test.note",
                                   detail={"note": body}))
            session.add(Job(business_id=b, kind="send_message", payload={"text": body}))
            for to in (number, "+15550000000"):
                session.add(WebhookEvent(provider="twilio", event_id=f"SMu{b}x{i}{to}", kind="sms.inbound",
                                         payload={"Body": body, "From": "+1999", "To": to}))
            session.add(LoginAttempt(username_hash=body[:64], outcome="failure", ip_address=body[:45]))


def _by_cell(findings):
    return sorted((f.table, f.column, f.row, f.matched, f.platform) for f in findings)


def test_many_people_in_one_pass_give_each_exactly_the_single_scan_findings(database):
    tenant, other = make_business(), make_business()
    _seed_everywhere(tenant)
    _seed_everywhere(other)  # another business's rows are never reported
    people = {key: _needles(key) for key in PEOPLE}
    with db.system_session() as session:
        skip = {("customers", "notes", "1")}
        single = {key: _by_cell(privacy.scan(session, business_id=tenant.business_id, needles=needles, skip=skip))
                  for key, needles in people.items()}
        batch = privacy.scan_many(session, business_id=tenant.business_id, people=people, skip=skip)

    assert {key: _by_cell(found) for key, found in batch.items()} == single
    # The seeded data does reach every kind of table and identifier, and the near misses stay misses.
    assert {f[0] for f in single["maria"]} >= {"customers", "messages", "bookings", "webhook_events",
                                                "enforcement_actions", "audit_events", "jobs", "consent_events"}
    assert {f[3] for found in single.values() for f in found} == {"phone", "email", "name"}
    # Platform rows: those of texts to the business's number are read (and marked), no other ever is.
    mine = {e.id for e in rows(WebhookEvent) if e.business_id is None and e.payload["To"] != "+15550000000"
            and e.event_id.startswith(f"SMu{tenant.business_id}x")}
    platform = {(f[0], int(f[2])) for found in single.values() for f in found if f[4]}
    assert platform and platform <= {("webhook_events", i) for i in mine}
    assert all(f[0] != "login_attempts" for found in single.values() for f in found)
    # "Al" is in the messages once as a whole word (body and media caption), never inside "Sal" or "Alan".
    assert [f[1] for f in single["al"] if f[0] == "messages"] == ["body", "media"]


def test_one_pass_reads_every_table_once_whatever_the_number_of_people(database):
    tenant = make_business()
    _seed_everywhere(tenant)

    def tables_read(people: int) -> list[str]:
        statements: list[str] = []

        def seen(_connection, _cursor, statement, *_):
            statements.append(statement)

        needles = {i: privacy.needles_for(name=f"Person {i}", phone_e164=f"+1212555{i:04d}",
                                          email=f"p{i}@example.com", region="US") for i in range(people)}
        event.listen(database.engine, "before_cursor_execute", seen)
        try:
            with db.system_session() as session:
                privacy.scan_many(session, business_id=tenant.business_id, people=needles)
        finally:
            event.remove(database.engine, "before_cursor_execute", seen)
        return [re.search(r"FROM (\S+)", s).group(1).strip('"') for s in statements if "lower(CAST(" in s]

    once = tables_read(1)
    assert len(once) == len(set(once)) and {"customers", "messages", "webhook_events"} <= set(once)
    assert "login_attempts" not in once and "screening_terms" not in once
    assert tables_read(300) == once


# --- the index never misses anyone the exact check would find -------------------------------

_alphabet = st.sampled_from(list("alnoe Ü'-.@+()0123456789_"))
_fragment = st.text(_alphabet, min_size=0, max_size=12)
_person = st.tuples(
    st.text(st.sampled_from(list("alnoeÜ' -.")), min_size=0, max_size=10),  # name (often short or odd)
    st.text(st.sampled_from(list("0123456789+ ()-")), min_size=0, max_size=14),  # phone forms, any shape
    st.text(st.sampled_from(list("alnoe0123456789.@_")), min_size=0, max_size=12),  # email
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(_person, min_size=1, max_size=6), pieces=st.lists(st.integers(0, 20), max_size=8),
       noise=st.lists(_fragment, max_size=8))
def test_the_index_finds_everyone_the_exact_check_finds(people, pieces, noise):
    needles = {i: {"phone": [p] if p else [], "email": [e] if e else [], "name": [n] if n else []}
               for i, (n, p, e) in enumerate(people)}
    identifiers = [v for needle in needles.values() for values in needle.values() for v in values]
    # A cell made of the people's identifiers (whole or cut) between noise.
    value = ""
    for i, pick in enumerate(pieces):
        source = identifiers[pick % len(identifiers)] if identifiers else ""
        value += (noise[i % len(noise)] if noise else "") + source[pick % 3:] + source[: pick % 2]
    patterns = {k: _verify._patterns(n) for k, n in needles.items()}
    words = {k: _verify._name_words(n) for k, n in needles.items()}
    exact = {k for k in needles if _verify._matched(value, patterns[k], words[k])}
    suspects = _verify._Suspects(patterns, {k: n["name"] for k, n in needles.items()})
    assert exact <= suspects.of(value)
