"""Businesses: sign-up, settings, and operators' enforcement actions (kaimen_core.tenancy)."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from kaimen_core import audit, auth, dashboard, db, tenancy
from kaimen_core.actors import Origin
from kaimen_core.exceptions import (
    Conflict,
    InvalidCredentials,
    NotFound,
    PermissionDenied,
    RateLimited,
    SessionInvalid,
    ValidationError,
)
from kaimen_core.models import (
    AuditEvent,
    Business,
    BusinessUpdate,
    EnforcementAction,
    NetworkAttempt,
    User,
    UserSession,
)
from tests.factories import ORIGIN, PASSWORD, count, make_business, make_operator, make_staff, rows

GOOD = {
    "business_name": "Fade & Fringe",
    "owner_name": "Dana Owner",
    "email": "Dana.Owner@Fade.Example",
    "phone": "(212) 555-0142",
    "region": "us",
    "time_zone": "America/New_York",
    "password": PASSWORD,
    "confirm_password": PASSWORD,
}


PROBER = Origin(ip_address="198.51.100.23", user_agent="Prober/1.0")
NEIGHBOUR = Origin(ip_address="198.51.100.24", user_agent="Mozilla/5.0")
TOO_MANY = re.compile(r"Too many attempts from this network; try again in \d+ minutes?\.")


def _sign_up(*, origin: Origin = ORIGIN, **changes):
    return tenancy.sign_up(**{**GOOD, **changes}, origin=origin)


# --- sign-up ----------------------------------------------------------------------------


def test_sign_up_creates_the_business_and_signs_the_owner_in(database):
    signed_in = _sign_up()
    actor = signed_in.actor
    assert (actor.role, actor.username, actor.display_name) == ("owner", "dana.owner", "Dana Owner")
    assert auth.resolve_session(cookie=signed_in.cookie).user_id == actor.user_id

    [business] = rows(Business)
    assert business.id == actor.business_id
    assert (business.name, business.slug, business.status) == ("Fade & Fringe", "fade-fringe", "active")
    assert (business.region, business.time_zone, business.phone) == ("US", "America/New_York", "+12125550142")
    assert business.messaging_enabled and business.messaging_number is None
    [owner] = rows(User)
    assert (owner.email, owner.role, owner.business_id) == ("dana.owner@fade.example", "owner", business.id)
    assert PASSWORD not in owner.password_hash

    with db.tenant_session(actor) as session:
        assert tenancy.get_business(session, actor=actor).name == "Fade & Fringe"
    [event] = rows(AuditEvent, AuditEvent.action == "business.signed_up")
    assert (event.business_id, event.target_id, event.ip_address) == (business.id, str(business.id), "127.0.0.1")
    # The new owner can sign in again later with the same password, by email or by the username made from it.
    for typed in ("Dana.Owner@Fade.Example", "dana.owner"):
        assert auth.sign_in(username=typed, password=PASSWORD, origin=ORIGIN).actor.user_id == actor.user_id


BAD_SIGN_UPS = [
    ({"business_name": ""}, "business_name", "Business name is required"),
    ({"business_name": "   "}, "business_name", "Business name is required"),
    ({"business_name": "x" * 101}, "business_name", "at most 100 characters"),
    ({"business_name": "Bad\x00Name"}, "business_name", "control characters"),
    ({"owner_name": ""}, "owner_name", "Your name is required"),
    ({"email": ""}, "email", "Email is required"),
    ({"email": "dana-at-example.com"}, "email", "not a valid email address"),
    ({"email": "dana@localhost"}, "email", "not a valid email address"),
    ({"email": "da\x00na@fade.example"}, "email", "Email must not contain control characters"),
    ({"email": "dana@fade.example\x1b"}, "email", "Email must not contain control characters"),
    ({"phone": ""}, "phone", "Phone number is required"),
    ({"phone": "12345"}, "phone", "not a valid phone number for US"),
    ({"phone": "call me"}, "phone", "is not a phone number"),
    ({"region": ""}, "region", "not a known country code"),
    ({"region": "XX"}, "region", "not a known country code"),
    ({"time_zone": ""}, "time_zone", "not a known time zone"),
    ({"time_zone": "Mars/Base"}, "time_zone", "not a known time zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "not a known time zone"),
    ({"password": "", "confirm_password": ""}, "password", "Password is required"),
    ({"password": "short-pass1", "confirm_password": "short-pass1"}, "password", "at least 12 characters"),
    ({"confirm_password": PASSWORD + "x"}, "confirm_password", "do not match"),
    ({"password": "ü" * 37, "confirm_password": "ü" * 37}, "password", "at most 72 bytes"),
    ({"password": "correct\x00horse battery", "confirm_password": "correct\x00horse battery"}, "password",
     "Password must not contain control characters"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_SIGN_UPS, ids=[f"{f}:{m}" for _, f, m in BAD_SIGN_UPS])
def test_bad_sign_up_input_is_refused_with_a_clear_message_and_writes_nothing(database, changes, field, message):
    with pytest.raises(ValidationError) as refused:
        _sign_up(**changes)
    assert refused.value.field == field
    assert message in str(refused.value)
    assert (count(Business), count(User), count(UserSession), count(AuditEvent)) == (0, 0, 0, 0)


def test_a_taken_email_is_refused_without_saying_more_and_writes_nothing(database):
    """Sign-up asks for no username, so only the email can be taken; the answer says what to
    do (sign in, or use another address) and is the same whoever holds the email."""
    _sign_up()
    operator, _ = make_operator()
    operator_email = rows(User, User.id == operator.user_id)[0].email
    before = (count(Business), count(User), count(UserSession), count(AuditEvent))
    for email in ("DANA.OWNER@fade.example", operator_email.upper()):
        with pytest.raises(Conflict) as refused:
            _sign_up(business_name="Another Salon", email=email)
        assert str(refused.value) == tenancy.EMAIL_IN_USE == (
            "This email address cannot be used for a new account. If you already have a Kaimen account, "
            "sign in with it; a new business needs an email address of its own.")
    assert (count(Business), count(User), count(UserSession), count(AuditEvent)) == before
    assert [b.name for b in rows(Business)] == ["Fade & Fringe"]


def test_the_owners_username_is_made_from_the_email_and_never_clashes(database):
    first = _sign_up(email="dana@one.example").actor
    second = _sign_up(business_name="Second", email="Dana@two.example").actor
    short = _sign_up(business_name="Third", email="jo@three.example").actor
    odd = _sign_up(business_name="Fourth", email="_Ja+Vü!@four.example").actor
    assert first.username == "dana"
    assert re.fullmatch(r"dana-\d{4}", second.username)  # "dana" was taken
    assert (short.username, odd.username) == ("jo-owner", "ja-v")
    for actor in (first, second, short, odd):
        assert auth.sign_in(username=actor.username, password=PASSWORD, origin=ORIGIN).actor.user_id == actor.user_id


def test_a_network_gets_ten_sign_ups_an_hour_and_asking_about_emails_spends_them(database):
    limit = auth.NEW_ACCOUNTS_PER_NETWORK
    assert (limit.attempts, limit.window) == (10, timedelta(hours=1))
    _sign_up()  # dana.owner@fade.example has an account
    for _ in range(4):  # someone asks whether it does
        with pytest.raises(Conflict):
            _sign_up(origin=PROBER, business_name="Probe")
    for changes in ({"phone": "call me"}, {"password": "short", "confirm_password": "short"},
                    {"email": "not-an-email"}):  # typing mistakes reveal nothing, and cost nothing
        with pytest.raises(ValidationError):
            _sign_up(origin=PROBER, **changes)
    for n in range(6):
        _sign_up(origin=PROBER, business_name=f"Salon {n}", email=f"salon{n}@example.com")
    before = (count(Business), count(User), count(UserSession))

    for email in ("salon-late@example.com", "dana.owner@fade.example"):  # the probe is no longer answered
        with pytest.raises(RateLimited) as refused:
            _sign_up(origin=PROBER, business_name="Late", email=email)
        assert TOO_MANY.fullmatch(str(refused.value))
        assert str(refused.value).endswith(("in 60 minutes.", "in 59 minutes."))
    assert (count(Business), count(User), count(UserSession)) == before
    [event] = rows(AuditEvent, AuditEvent.action == "auth.rate_limited")
    assert (event.actor_label, event.business_id, event.ip_address) == ("unknown:?", None, PROBER.ip_address)
    assert event.detail == {"limit": "new_account", "attempts": 10, "minutes": 60}
    assert "salon-late" not in json.dumps(event.model_dump(mode="json"))
    # Another network signs up as usual; and an hour later, so does this one.
    _sign_up(origin=NEIGHBOUR, business_name="Next Door", email="next-door@example.com")
    with db.system_session() as session:
        for attempt in session.exec(select(NetworkAttempt)).all():
            attempt.created_at -= limit.window
            session.add(attempt)
    _sign_up(origin=PROBER, business_name="Late", email="salon-late@example.com")


def test_sign_ups_from_one_network_at_once_make_no_more_than_ten_businesses(database):
    start = threading.Barrier(15)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        start.wait()
        try:
            _sign_up(origin=PROBER, business_name=f"Salon {n}", email=f"salon{n}@example.com")
            outcomes.append("signed up")
        except RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["signed up"] * 10
    assert count(Business) == 10


def test_slugs_are_unique_and_readable(database):
    slugs = []
    for n, name in enumerate(["Cut & Colour", "cut colour", "CUT — COLOUR!", "Café Crème", "!!!"]):
        signed_in = _sign_up(business_name=name, email=f"owner{n}@example.com")
        slugs.append(rows(Business, Business.id == signed_in.actor.business_id)[0].slug)
    assert slugs == ["cut-colour", "cut-colour-2", "cut-colour-3", "cafe-creme", "business"]


# --- the owner's settings ---------------------------------------------------------------


def test_an_owner_updates_the_business(database):
    tenant = make_business("Old Name")
    [original] = rows(Business)
    with db.tenant_session(tenant.owner) as session:
        updated = tenancy.update_business(
            session, actor=tenant.owner,
            changes=BusinessUpdate(name="  New Name ", time_zone="Europe/London", region="gb", phone="020 7946 0018"),
        )
    assert (updated.name, updated.time_zone, updated.region, updated.phone) == (
        "New Name", "Europe/London", "GB", "+442079460018")
    [stored] = rows(Business, Business.id == tenant.business_id)
    assert (stored.name, stored.time_zone, stored.phone) == ("New Name", "Europe/London", "+442079460018")
    assert stored.slug == original.slug == "old-name"  # the address does not move with the name
    [event] = rows(AuditEvent, AuditEvent.action == "business.updated")
    assert event.detail == {"fields": "name,phone,region,time_zone"}
    assert "New Name" not in str(event.detail)


def test_an_empty_update_changes_nothing_and_records_nothing(database):
    tenant = make_business("Same Name")
    with db.tenant_session(tenant.owner) as session:
        tenancy.update_business(session, actor=tenant.owner, changes=BusinessUpdate())
    assert rows(Business)[0].name == "Same Name"
    assert count(AuditEvent, AuditEvent.action == "business.updated") == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (BusinessUpdate(name="Fine", time_zone="Mars/Base"), "time_zone"),
        (BusinessUpdate(name="Fine", region="XX"), "region"),
        (BusinessUpdate(name="Fine", phone="12345"), "phone"),
        (BusinessUpdate(name=""), "name"),
    ],
    ids=["time-zone", "region", "phone", "name"],
)
def test_a_bad_update_is_refused_and_changes_nothing(database, changes, field):
    tenant = make_business("Kept Name")
    before = rows(Business)[0].model_dump()
    with pytest.raises(ValidationError) as refused:
        with db.tenant_session(tenant.owner) as session:
            tenancy.update_business(session, actor=tenant.owner, changes=changes)
    assert refused.value.field == field
    assert rows(Business)[0].model_dump() == before


def test_staff_cannot_change_settings_but_can_read_them(database):
    tenant = make_business("Staffed")
    staff, _ = make_staff(tenant)
    with pytest.raises(PermissionDenied):
        with db.tenant_session(staff) as session:
            tenancy.update_business(session, actor=staff, changes=BusinessUpdate(name="Hijacked"))
    with db.tenant_session(staff) as session:
        assert tenancy.get_business(session, actor=staff).name == "Staffed"
    assert rows(Business)[0].name == "Staffed"


# --- operators --------------------------------------------------------------------------


def test_operators_list_every_business_with_its_team_size(database):
    first = make_business("Alpha Hair")
    make_staff(first)
    second = make_business("Beta Nails")
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        listed = tenancy.list_businesses(session, actor=operator)
        by_search = tenancy.list_businesses(session, actor=operator, search="  NAILS ")
        by_slug = tenancy.list_businesses(session, actor=operator, search="alpha-hair")
    assert {(b.id, b.name, b.users, b.status) for b in listed} == {
        (first.business_id, "Alpha Hair", 2, "active"),
        (second.business_id, "Beta Nails", 1, "active"),
    }
    assert [b.id for b in by_search] == [second.business_id]
    assert [b.id for b in by_slug] == [first.business_id]

    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=second.business_id, action="suspend",
                        reason="Unpaid spam complaints")
    with db.tenant_session(operator) as session:
        suspended = tenancy.list_businesses(session, actor=operator, status="suspended")
    assert [b.id for b in suspended] == [second.business_id]

    accesses = rows(AuditEvent, AuditEvent.action == "operator.access", AuditEvent.target_type == "businesses")
    assert len(accesses) == 1  # the same view within ten minutes is recorded once
    assert accesses[0].actor_user_id == operator.user_id


def _enforce(operator, business_id, action, reason="Acceptable use policy breach"):
    with db.tenant_session(operator) as session:
        return tenancy.enforce(session, actor=operator, business_id=business_id, action=action, reason=reason)


def _business(business_id) -> Business:
    return rows(Business, Business.id == business_id)[0]


def test_every_enforcement_action_in_turn(database):
    tenant = make_business()
    other = make_business()
    operator, _ = make_operator()
    expected = [
        ("warn", "active", True),
        ("disable_messaging", "active", False),
        ("enable_messaging", "active", True),
        ("suspend", "suspended", True),
        ("reinstate", "active", True),
        ("terminate", "terminated", True),
        ("reinstate", "active", True),
    ]
    for n, (action, status, messaging) in enumerate(expected, start=1):
        record = _enforce(operator, tenant.business_id, action, reason=f"Reason number {n}")
        assert (record.action, record.business_id, record.reason) == (action, tenant.business_id, f"Reason number {n}")
        business = _business(tenant.business_id)
        assert (business.status, business.messaging_enabled) == (status, messaging), action
        [event] = [e for e in rows(AuditEvent, AuditEvent.action == f"enforcement.{action}")
                   if e.detail["enforcement_id"] == record.id]
        assert (event.business_id, event.actor_user_id, event.target_id) == (
            tenant.business_id, operator.user_id, str(tenant.business_id))
    assert count(EnforcementAction, EnforcementAction.business_id == tenant.business_id) == len(expected)
    assert _business(other.business_id).status == "active"

    # The owner sees what was done to their business, and why; nothing about others.
    signed_in = auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    with db.tenant_session(signed_in.actor) as session:
        history = tenancy.list_enforcement(session, actor=signed_in.actor)
        overview = dashboard.business_overview(session, actor=signed_in.actor)
    assert sorted(r.reason for r in history) == [f"Reason number {n}" for n in range(1, 8)]
    assert [w.reason for w in overview.warnings] == ["Reason number 1"]


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ([], "reinstate", "Cannot reinstate a business that is active"),
        (["suspend"], "suspend", "Cannot suspend a business that is suspended"),
        (["terminate"], "terminate", "Cannot terminate a business that is terminated"),
        (["terminate"], "suspend", "Cannot suspend a business that is terminated"),
        ([], "enable_messaging", "Messaging is already enabled"),
        (["disable_messaging"], "disable_messaging", "Messaging is already disabled"),
        ([], "delete_everything", "Unknown action 'delete_everything'"),
    ],
    ids=["reinstate-active", "suspend-twice", "terminate-twice", "suspend-terminated", "enable-enabled",
         "disable-disabled", "unknown"],
)
def test_an_invalid_transition_is_refused_and_changes_nothing(database, setup, action, message):
    tenant = make_business()
    operator, _ = make_operator()
    for step in setup:
        _enforce(operator, tenant.business_id, step)
    before = (_business(tenant.business_id).model_dump(), count(EnforcementAction), count(AuditEvent))
    with pytest.raises(ValidationError, match=message) as refused:
        _enforce(operator, tenant.business_id, action)
    assert refused.value.field == "action"
    assert (_business(tenant.business_id).model_dump(), count(EnforcementAction), count(AuditEvent)) == before


@pytest.mark.parametrize("reason", ["", "    ", "spam", None])
def test_enforcement_needs_a_reason(database, reason):
    tenant = make_business()
    operator, _ = make_operator()
    with pytest.raises(ValidationError) as refused:
        _enforce(operator, tenant.business_id, "suspend", reason=reason)
    assert refused.value.field == "reason"
    assert _business(tenant.business_id).status == "active"
    assert count(EnforcementAction) == 0
    assert auth.resolve_session(cookie=tenant.owner_cookie).business_id == tenant.business_id


def test_enforcing_on_an_unknown_business_is_not_found(database):
    operator, _ = make_operator()
    with pytest.raises(NotFound):
        _enforce(operator, 999_999, "warn")


@pytest.mark.parametrize("action", ["suspend", "terminate"])
def test_suspending_or_terminating_signs_everyone_out_until_reinstated(database, action):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    bystander = make_business()
    operator, operator_cookie = make_operator()

    record = _enforce(operator, tenant.business_id, action)
    for cookie in (tenant.owner_cookie, staff_cookie):
        with pytest.raises(SessionInvalid):
            auth.resolve_session(cookie=cookie)
    with pytest.raises(SessionInvalid, match="suspended"):
        auth.sign_in(username=staff.username, password=PASSWORD, origin=ORIGIN)
    [event] = rows(AuditEvent, AuditEvent.action == f"enforcement.{action}")
    assert event.detail == {"enforcement_id": record.id, "sessions_revoked": 2}
    # Other businesses and the operator are untouched.
    assert auth.resolve_session(cookie=bystander.owner_cookie).business_id == bystander.business_id
    assert auth.resolve_session(cookie=operator_cookie).is_operator

    _enforce(operator, tenant.business_id, "reinstate")
    with pytest.raises(SessionInvalid):  # revoked sessions stay revoked
        auth.resolve_session(cookie=tenant.owner_cookie)
    assert auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN).actor.role == "owner"
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=staff.username, password="still not right", origin=ORIGIN)


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_owners_and_staff_cannot_use_operator_functions(database, role):
    tenant = make_business()
    victim = make_business()
    actor = tenant.owner if role == "owner" else make_staff(tenant)[0]
    calls = {
        "list_businesses": lambda s: tenancy.list_businesses(s, actor=actor),
        "enforce own": lambda s: tenancy.enforce(s, actor=actor, business_id=tenant.business_id, action="reinstate",
                                                 reason="Let me back in"),
        "enforce other": lambda s: tenancy.enforce(s, actor=actor, business_id=victim.business_id,
                                                   action="suspend", reason="Competitor sabotage"),
        "platform_overview": lambda s: dashboard.platform_overview(s, actor=actor),
        "record_operator_access": lambda s: audit.record_operator_access(s, actor=actor, purpose="businesses"),
    }
    before = (count(Business, Business.status == "active"), count(EnforcementAction), count(AuditEvent))
    for name, call in calls.items():
        with pytest.raises(PermissionDenied):
            with db.tenant_session(actor) as session:
                call(session)
        assert (count(Business, Business.status == "active"), count(EnforcementAction), count(AuditEvent)) == (
            before), name
