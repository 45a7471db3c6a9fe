"""Sign-in, lockout, sessions, password changes and the owner's team (kaimen_core.auth)."""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from kaimen_core import audit, auth, db, tenancy
from kaimen_core.actors import Origin
from kaimen_core.config import reset_settings
from kaimen_core.exceptions import (
    AccountLocked,
    Conflict,
    InvalidCredentials,
    NotFound,
    PermissionDenied,
    RateLimited,
    SessionInvalid,
    ValidationError,
)
from kaimen_core.models import AuditEvent, Business, LoginAttempt, NetworkAttempt, User, UserSession, utcnow
from tests.factories import ORIGIN, PASSWORD, count, make_business, make_operator, make_staff, rows

WRONG = "not the password at all"
NEW_PASSWORD = "a brand new passphrase"
OTHER_BROWSER = Origin(ip_address="198.51.100.7", user_agent="OtherBrowser/2.0")
SUSPENDED = "This business's Kaimen account is suspended. Contact Kaimen support."
INCORRECT = "Username or password is incorrect."
PROBER = Origin(ip_address="203.0.113.50", user_agent="Prober/1.0")
TOO_MANY = re.compile(r"Too many attempts from this network; try again in \d+ minutes?\.")


def _fail_sign_in(username: str, times: int, *, origin: Origin = ORIGIN, first: int = 0) -> list[Exception]:
    """Sign in ``times`` times with a wrong password; returns what each attempt raised.

    ``{n}`` in ``username`` is replaced by the attempt's number (from ``first``), so every
    attempt can try another account.
    """
    raised = []
    for n in range(first, first + times):
        with pytest.raises((InvalidCredentials, AccountLocked, RateLimited)) as excinfo:
            auth.sign_in(username=username.format(n=n), password=WRONG, origin=origin)
        raised.append(excinfo.value)
    return raised


def _age(model: type[LoginAttempt | NetworkAttempt], by: timedelta) -> None:
    """Move every recorded attempt (of lockout, or of the per-network limits) ``by`` into the past."""
    with db.system_session() as session:
        for attempt in session.exec(select(model)).all():
            attempt.created_at = attempt.created_at - by
            session.add(attempt)


def _events(action: str) -> list[AuditEvent]:
    return rows(AuditEvent, AuditEvent.action == action)


# --- signing in -------------------------------------------------------------------------


def test_sign_in_by_username_or_email_in_any_case(database):
    tenant = make_business("Corner Barber")
    by_name = auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    by_email = auth.sign_in(username=f"  {tenant.username.upper()}@EXAMPLE.COM ", password=PASSWORD, origin=ORIGIN)
    for signed_in in (by_name, by_email):
        assert signed_in.actor.role == "owner"
        assert signed_in.actor.username == tenant.username
        assert signed_in.actor.business_id == tenant.business_id
        assert auth.resolve_session(cookie=signed_in.cookie).user_id == tenant.owner.user_id
    assert by_name.cookie != by_email.cookie
    assert timedelta(days=13, hours=23) < by_name.expires_at - utcnow() <= timedelta(days=14)


def test_wrong_password_and_unknown_user_get_the_same_answer(database):
    tenant = make_business()
    with pytest.raises(InvalidCredentials) as wrong_password:
        auth.sign_in(username=tenant.username, password=WRONG, origin=ORIGIN)
    with pytest.raises(InvalidCredentials) as unknown_user:
        auth.sign_in(username="nobody-here", password=PASSWORD, origin=ORIGIN)
    with pytest.raises(InvalidCredentials) as empty:
        auth.sign_in(username="", password="", origin=ORIGIN)
    assert str(wrong_password.value) == str(unknown_user.value) == str(empty.value)
    assert str(unknown_user.value) == "Username or password is incorrect."


# --- lockout ----------------------------------------------------------------------------


def test_five_failures_lock_the_username_even_for_the_right_password(database):
    tenant = make_business()
    raised = _fail_sign_in(tenant.username, 5)
    assert [type(e) for e in raised] == [InvalidCredentials] * 4 + [AccountLocked]
    locked = raised[-1]
    assert timedelta(minutes=14) < locked.until - utcnow() <= auth.LOCKOUT_WINDOW
    assert "Too many failed sign-in attempts" in str(locked)

    with pytest.raises(AccountLocked):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    # Typing the account's email instead of its username does not get round the lock.
    with pytest.raises(AccountLocked):
        auth.sign_in(username=f"{tenant.username}@example.com", password=PASSWORD, origin=ORIGIN)
    # Other accounts are unaffected.
    other = make_business()
    assert auth.sign_in(username=other.username, password=PASSWORD, origin=ORIGIN).actor.user_id


def test_failures_typed_as_email_and_as_username_count_together(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 3)
    raised = _fail_sign_in(f"{tenant.username}@example.com", 2)
    assert isinstance(raised[-1], AccountLocked)


def test_lockout_holds_in_another_browser_and_another_process(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 5, origin=ORIGIN)
    db.reset_engine()  # a fresh engine and pool: another replica of the app
    with pytest.raises(AccountLocked):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=OTHER_BROWSER)


def test_lockout_expires_after_the_window(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 5)
    _age(LoginAttempt, auth.LOCKOUT_WINDOW - timedelta(minutes=1))
    with pytest.raises(AccountLocked):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    _age(LoginAttempt, timedelta(minutes=2))
    signed_in = auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    assert signed_in.actor.user_id == tenant.owner.user_id


def test_failures_spread_over_more_than_the_window_do_not_lock(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 3)
    _age(LoginAttempt, auth.LOCKOUT_WINDOW + timedelta(minutes=1))
    raised = _fail_sign_in(tenant.username, 2)
    assert [type(e) for e in raised] == [InvalidCredentials, InvalidCredentials]


def test_a_successful_sign_in_resets_the_count(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 4)
    auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    raised = _fail_sign_in(tenant.username, 5)
    assert [type(e) for e in raised] == [InvalidCredentials] * 4 + [AccountLocked]


def test_many_processes_at_once_get_no_more_than_five_password_checks(database, monkeypatch):
    """Twelve sign-ins at the same moment (as from twelve app replicas) check the password at
    most five times, and the account is locked afterwards. The check is slowed to bcrypt's
    production cost so that every attempt is in flight at once."""
    import threading
    import time

    from kaimen_core.auth import _sessions

    tenant = make_business()
    checks: list[str] = []
    real_check = _sessions.verify_password

    def slow_check(password: str, password_hash: str) -> bool:
        checks.append(password)
        time.sleep(0.2)
        return real_check(password, password_hash)

    monkeypatch.setattr(_sessions, "verify_password", slow_check)
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            auth.sign_in(username=tenant.username, password=WRONG, origin=ORIGIN)
        except (InvalidCredentials, AccountLocked) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 12
    assert len(checks) <= auth.LOCKOUT_ATTEMPTS
    assert count(LoginAttempt, LoginAttempt.outcome == "failure") <= auth.LOCKOUT_ATTEMPTS
    with pytest.raises(AccountLocked):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)


def test_unknown_usernames_lock_too_so_lockout_reveals_nothing(database):
    raised = _fail_sign_in("no-such-person", 5)
    assert isinstance(raised[-1], AccountLocked)


# --- what can be typed -------------------------------------------------------------------


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\n", "\x85"],
                         ids=["nul", "escape", "delete", "line-feed", "c1-next-line"])
def test_a_control_character_is_answered_like_a_wrong_password_and_nothing_is_looked_up(database, character):
    tenant = make_business()
    inside = f"{tenant.username[:3]}{character}{tenant.username[3:]}"
    events_before = count(AuditEvent)
    for username, password in ((inside, PASSWORD), (f"{tenant.username}@example.com{character}x", PASSWORD),
                               (tenant.username, PASSWORD + character), (f"no{character}body", WRONG)):
        with pytest.raises(InvalidCredentials) as refused:
            auth.sign_in(username=username, password=password, origin=PROBER)
        assert str(refused.value) == INCORRECT
    assert count(LoginAttempt) == count(NetworkAttempt, NetworkAttempt.action == "sign_in") == 0
    assert count(AuditEvent) == events_before


def test_a_name_longer_than_any_account_has_is_answered_like_a_wrong_password(database):
    tenant = make_business()
    with pytest.raises(InvalidCredentials, match=INCORRECT):
        auth.sign_in(username=tenant.username + "x" * 10_000, password=PASSWORD, origin=PROBER)
    assert count(LoginAttempt) == count(NetworkAttempt, NetworkAttempt.action == "sign_in") == 0


# --- the limit per network ---------------------------------------------------------------


def test_a_network_past_twenty_failed_sign_ins_is_refused_before_anything_is_looked_up(database):
    tenant = make_business()
    limit = auth.SIGN_IN_PER_NETWORK
    assert (limit.attempts, limit.window) == (20, timedelta(minutes=15))
    assert [type(e) for e in _fail_sign_in("guess-{n}", 20, origin=PROBER)] == [InvalidCredentials] * 20
    attempts_before = count(LoginAttempt)

    for username, password in ((tenant.username, PASSWORD), ("guess-99", WRONG)):
        with pytest.raises(RateLimited) as refused:
            auth.sign_in(username=username, password=password, origin=PROBER)
        assert TOO_MANY.fullmatch(str(refused.value))
        assert utcnow() + timedelta(minutes=14) < refused.value.until <= utcnow() + limit.window
    assert count(LoginAttempt) == attempts_before  # the accounts were not even counted
    # Another network signs in as usual; the account itself was never locked.
    assert auth.sign_in(username=tenant.username, password=PASSWORD, origin=OTHER_BROWSER).actor.user_id


def test_right_passwords_do_not_count_against_the_network(database):
    tenant = make_business()
    for _ in range(25):  # an office whose staff all sign in
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=PROBER)
    assert [type(e) for e in _fail_sign_in("guess-{n}", 21, origin=PROBER)] == [InvalidCredentials] * 20 + [RateLimited]


def test_the_network_limit_holds_across_replicas_and_lifts_as_its_attempts_age(database):
    tenant = make_business()
    _fail_sign_in("guess-{n}", 20, origin=PROBER)
    db.reset_engine()  # a fresh engine and pool: another replica of the app
    with pytest.raises(RateLimited):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=PROBER)
    _age(NetworkAttempt, auth.SIGN_IN_PER_NETWORK.window - timedelta(minutes=1))
    with pytest.raises(RateLimited):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=PROBER)
    _age(NetworkAttempt, timedelta(minutes=2))
    assert auth.sign_in(username=tenant.username, password=PASSWORD, origin=PROBER).actor.user_id


def test_addresses_of_one_ipv6_64_count_as_one_network(database):
    _fail_sign_in("guess-{n}", 10, origin=Origin(ip_address="2001:db8:1:2::1"))
    _fail_sign_in("guess-{n}", 10, origin=Origin(ip_address="2001:db8:1:2:ffff:ffff:ffff:fffe"), first=10)
    with pytest.raises(RateLimited):
        auth.sign_in(username="guess-x", password=WRONG, origin=Origin(ip_address="2001:db8:1:2:abcd::9"))
    with pytest.raises(InvalidCredentials):  # the next /64 is another network
        auth.sign_in(username="guess-x", password=WRONG, origin=Origin(ip_address="2001:db8:1:3::1"))


def test_many_replicas_at_once_let_no_more_than_twenty_through(database):
    """Thirty failed sign-ins from one network at the same moment (as from many app replicas):
    exactly twenty are checked, ten refused."""
    start = threading.Barrier(30)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        start.wait()
        try:
            auth.sign_in(username=f"guess-{n}", password=WRONG, origin=PROBER)
        except (InvalidCredentials, RateLimited) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["InvalidCredentials"] * 20 + ["RateLimited"] * 10
    assert count(LoginAttempt) == 20


def test_a_refused_network_is_audited_once_with_no_typed_text(database):
    typed = "mallory.probes.this"
    _fail_sign_in("guess-{n}", 20, origin=PROBER)
    for _ in range(5):
        with pytest.raises(RateLimited):
            auth.sign_in(username=typed, password="hunter2-guessed", origin=PROBER)
    [event] = _events("auth.rate_limited")
    assert (event.actor_label, event.business_id, event.ip_address) == ("unknown:?", None, PROBER.ip_address)
    assert event.detail == {"limit": "sign_in", "attempts": 20, "minutes": 15}
    counted = json.dumps([a.model_dump(mode="json") for a in rows(NetworkAttempt)])
    stored = json.dumps([e.model_dump(mode="json") for e in rows(AuditEvent)]) + counted
    for secret in (typed, "mallory", "hunter2"):
        assert secret not in stored
    assert PROBER.ip_address not in counted  # the network is kept only as a keyed hash


def test_an_origin_without_an_address_is_not_limited_and_production_says_so(database, monkeypatch, caplog):
    assert [type(e) for e in _fail_sign_in("guess-{n}", 25, origin=Origin())] == [InvalidCredentials] * 25
    monkeypatch.setenv("KAIMEN_ENV", "production")
    monkeypatch.setenv("KAIMEN_SECRETS_KEY", "a-production-secrets-key-" + "z" * 32)
    reset_settings()
    try:
        with caplog.at_level(logging.WARNING, logger="kaimen_core.auth._limits"):
            _fail_sign_in("guess-{n}", 1, origin=Origin(), first=25)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert [r.getMessage() for r in caplog.records] == [
        "sign_in attempt without a client address, so no per-network limit applies: the proxy in front of the app "
        "must send X-Forwarded-For"
    ]


# --- what the audit log records ---------------------------------------------------------


def test_sign_in_events_carry_the_origin_and_no_secrets(database):
    tenant = make_business()
    browser = Origin(ip_address="203.0.113.9", user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0")
    typed_unknown = "mallory.typed.this"
    guessed = "hunter2-guessed-password"

    signed_in = auth.sign_in(username=tenant.username, password=PASSWORD, origin=browser)
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=tenant.username, password=guessed, origin=browser)
    for _ in range(5):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            auth.sign_in(username=typed_unknown, password=guessed, origin=browser)
    auth.sign_out(cookie=signed_in.cookie, origin=browser)

    sign_ins = [e for e in _events("auth.sign_in") if e.ip_address == browser.ip_address]
    assert len(sign_ins) == 1
    assert sign_ins[0].business_id == tenant.business_id
    assert sign_ins[0].actor_label == f"owner:{tenant.username}"
    assert sign_ins[0].user_agent == browser.user_agent

    failed = _events("auth.sign_in_failed")
    assert len(failed) == 6
    known = [e for e in failed if e.actor_user_id == tenant.owner.user_id]
    assert len(known) == 1 and known[0].business_id == tenant.business_id
    unknown = [e for e in failed if e.actor_user_id is None]
    assert len(unknown) == 5
    assert all(e.actor_label == "unknown:?" and e.business_id is None for e in unknown)
    assert all(e.ip_address == browser.ip_address and e.user_agent == browser.user_agent for e in failed)

    locked = _events("auth.locked_out")
    assert len(locked) == 1 and locked[0].actor_user_id is None and locked[0].ip_address == browser.ip_address

    signed_out = _events("auth.sign_out")
    assert len(signed_out) == 1
    assert signed_out[0].actor_user_id == tenant.owner.user_id and signed_out[0].ip_address == browser.ip_address

    stored = json.dumps([e.model_dump(mode="json") for e in rows(AuditEvent)])
    stored += json.dumps([a.model_dump(mode="json") for a in rows(LoginAttempt)])
    for secret in (PASSWORD, guessed, typed_unknown, "mallory"):
        assert secret not in stored


def test_the_owner_sees_a_lockout_of_their_account_in_their_audit_log(database):
    tenant = make_business()
    _fail_sign_in(tenant.username, 5)
    with db.tenant_session(tenant.owner) as session:
        actions = [e.action for e in audit.list_events(session, actor=tenant.owner)]
    assert actions.count("auth.sign_in_failed") == 5
    assert "auth.locked_out" in actions


# --- sessions behind the cookie ----------------------------------------------------------


def test_a_valid_cookie_resolves_to_its_user(database):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    actor = auth.resolve_session(cookie=staff_cookie, origin=OTHER_BROWSER)
    assert (actor.role, actor.user_id, actor.business_id) == ("staff", staff.user_id, tenant.business_id)
    assert actor.session_id == staff.session_id
    assert actor.origin == OTHER_BROWSER


TAMPERINGS = {
    "signature changed": lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),
    "token changed": lambda c: ("A" if c[0] != "A" else "B") + c[1:],
    "signature missing": lambda c: c.partition(".")[0],
    "signature empty": lambda c: c.partition(".")[0] + ".",
    "signature of another token": lambda c: "another-token." + c.partition(".")[2],
    "empty": lambda c: "",
    "none": lambda c: None,
    "garbage": lambda c: "garbage",
    "signature not ascii": lambda c: c[:-1] + "é",
    "token not ascii": lambda c: "é" + c,
    "control character": lambda c: c + "\x00",
}


def test_a_tampered_cookie_is_refused(database):
    tenant = make_business()
    for name, tamper in TAMPERINGS.items():
        with pytest.raises(SessionInvalid, match="Please sign in"):
            auth.resolve_session(cookie=tamper(tenant.owner_cookie))
            pytest.fail(f"a cookie with its {name} was accepted")
    assert auth.resolve_session(cookie=tenant.owner_cookie).user_id == tenant.owner.user_id


def test_a_cookie_signed_with_another_key_is_refused(database, monkeypatch):
    tenant = make_business()
    monkeypatch.setenv("KAIMEN_COOKIE_KEY", "another-cookie-key-" + "y" * 32)
    reset_settings()
    try:
        with pytest.raises(SessionInvalid):
            auth.resolve_session(cookie=tenant.owner_cookie)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert auth.resolve_session(cookie=tenant.owner_cookie).user_id == tenant.owner.user_id


def test_sign_out_ends_the_session_for_good(database):
    tenant = make_business()
    second = auth.sign_in(username=tenant.username, password=PASSWORD, origin=OTHER_BROWSER)
    auth.sign_out(cookie=tenant.owner_cookie, origin=ORIGIN)
    with pytest.raises(SessionInvalid, match="signed out"):
        auth.resolve_session(cookie=tenant.owner_cookie)
    auth.sign_out(cookie=tenant.owner_cookie, origin=ORIGIN)  # a second sign-out is harmless
    auth.sign_out(cookie="garbage", origin=ORIGIN)
    assert len(_events("auth.sign_out")) == 1
    # Only that browser was signed out.
    assert auth.resolve_session(cookie=second.cookie).user_id == tenant.owner.user_id


def test_an_expired_session_is_refused(database):
    tenant = make_business()
    with db.system_session() as session:
        row = session.get(UserSession, tenant.owner.session_id)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    with pytest.raises(SessionInvalid, match="expired"):
        auth.resolve_session(cookie=tenant.owner_cookie)


def test_a_password_change_signs_out_the_other_sessions_only(database):
    tenant = make_business()
    other = auth.sign_in(username=tenant.username, password=PASSWORD, origin=OTHER_BROWSER)
    current = auth.resolve_session(cookie=tenant.owner_cookie, origin=ORIGIN)
    with db.tenant_session(current) as session:
        revoked = auth.change_password(session, actor=current, current_password=PASSWORD,
                                       new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert revoked == 1
    assert auth.resolve_session(cookie=tenant.owner_cookie).user_id == tenant.owner.user_id
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=other.cookie)
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    assert auth.sign_in(username=tenant.username, password=NEW_PASSWORD, origin=ORIGIN)
    [event] = _events("auth.password_changed")
    assert event.detail == {"sessions_revoked": 1}
    assert PASSWORD not in json.dumps(event.model_dump(mode="json"))


def test_an_operator_can_change_their_own_password(database):
    operator, cookie = make_operator()
    elsewhere = auth.sign_in(username=operator.username, password=PASSWORD, origin=OTHER_BROWSER)
    with db.tenant_session(operator) as session:
        revoked = auth.change_password(session, actor=operator, current_password=PASSWORD,
                                       new_password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert revoked == 1
    assert auth.resolve_session(cookie=cookie).user_id == operator.user_id
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=elsewhere.cookie)
    assert auth.sign_in(username=operator.username, password=NEW_PASSWORD, origin=ORIGIN).actor.is_operator


def test_a_removed_user_is_signed_out_and_cannot_sign_in(database):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    with db.tenant_session(tenant.owner) as session:
        auth.remove_user(session, actor=tenant.owner, user_id=staff.user_id)
    with pytest.raises(SessionInvalid):
        auth.resolve_session(cookie=staff_cookie)
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=staff.username, password=PASSWORD, origin=ORIGIN)
    [event] = _events("user.removed")
    assert event.target_id == str(staff.user_id)
    assert event.detail == {"role": "staff", "sessions_revoked": 1}


def test_a_removed_user_is_refused_even_if_their_session_was_not_revoked(database):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    with db.system_session() as session:  # as if the removal had been written by an older version
        user = session.get(User, staff.user_id)
        user.removed_at = utcnow()
        session.add(user)
    with pytest.raises(SessionInvalid, match="removed"):
        auth.resolve_session(cookie=staff_cookie)


def test_suspending_a_business_ends_its_sessions_and_refuses_sign_in(database):
    tenant = make_business()
    staff, staff_cookie = make_staff(tenant)
    operator, _ = make_operator()
    with db.tenant_session(operator) as session:
        tenancy.enforce(session, actor=operator, business_id=tenant.business_id, action="suspend",
                        reason="Repeated spam complaints")
    for cookie in (tenant.owner_cookie, staff_cookie):
        with pytest.raises(SessionInvalid):
            auth.resolve_session(cookie=cookie)
    for username in (tenant.username, staff.username):
        with pytest.raises(SessionInvalid) as refused:
            auth.sign_in(username=username, password=PASSWORD, origin=ORIGIN)
        assert str(refused.value) == SUSPENDED
    # A wrong password still says only that the credentials are wrong.
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username=tenant.username, password=WRONG, origin=ORIGIN)


def test_a_session_of_a_suspended_business_is_refused_even_if_not_revoked(database):
    tenant = make_business()
    with db.system_session() as session:  # the status changed without the revocation step
        business = session.get(Business, tenant.business_id)
        business.status = "suspended"
        session.add(business)
    with pytest.raises(SessionInvalid) as refused:
        auth.resolve_session(cookie=tenant.owner_cookie)
    assert str(refused.value) == SUSPENDED


# --- changing a password ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        (WRONG, NEW_PASSWORD, NEW_PASSWORD, "current_password", "current password is incorrect"),
        ("", NEW_PASSWORD, NEW_PASSWORD, "current_password", "current password is incorrect"),
        (PASSWORD, "short", "short", "password", "at least 12 characters"),
        (PASSWORD, "", "", "password", "Password is required"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "confirm_password", "do not match"),
        (PASSWORD, "é" * 40, "é" * 40, "password", "at most 72 bytes"),
        (PASSWORD, PASSWORD, PASSWORD, "password", "must differ"),
    ],
    ids=["wrong-current", "empty-current", "short", "empty", "mismatch", "too-long", "same-as-old"],
)
def test_a_refused_password_change_changes_nothing(database, current, new, confirm, field, message):
    tenant = make_business()
    other = auth.sign_in(username=tenant.username, password=PASSWORD, origin=OTHER_BROWSER)
    with pytest.raises(ValidationError, match=message) as refused:
        with db.tenant_session(tenant.owner) as session:
            auth.change_password(session, actor=tenant.owner, current_password=current, new_password=new,
                                 confirm_password=confirm)
    assert refused.value.field == field
    assert auth.sign_in(username=tenant.username, password=PASSWORD, origin=ORIGIN)
    assert auth.resolve_session(cookie=other.cookie).user_id == tenant.owner.user_id
    assert _events("auth.password_changed") == []


# --- the owner's team -------------------------------------------------------------------


def test_an_owner_adds_a_staff_member_who_can_sign_in(database):
    tenant = make_business()
    added = auth.add_staff_user(actor=tenant.owner, username="Jo.Stylist", email="Jo@Example.com",
                                display_name="Jo Stylist", password=PASSWORD)
    assert (added.username, added.email, added.role) == ("jo.stylist", "jo@example.com", "staff")
    assert added.business_id == tenant.business_id
    assert not hasattr(added, "password_hash")
    signed_in = auth.sign_in(username="jo.stylist", password=PASSWORD, origin=ORIGIN)
    assert (signed_in.actor.role, signed_in.actor.business_id) == ("staff", tenant.business_id)
    with db.tenant_session(tenant.owner) as session:
        team = auth.list_users(session, actor=tenant.owner)
    assert sorted((u.username, u.role) for u in team) == [("jo.stylist", "staff"), (tenant.username, "owner")]
    [event] = _events("user.added")[-1:]
    assert event.actor_user_id == tenant.owner.user_id and event.target_id == str(added.id)


def test_staff_cannot_manage_the_team(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    users_before = count(User)
    with pytest.raises(PermissionDenied):
        auth.add_staff_user(actor=staff, username="sneaky", email="sneaky@example.com", display_name="Sneaky",
                            password=PASSWORD)
    with pytest.raises(PermissionDenied):
        with db.tenant_session(staff) as session:
            auth.remove_user(session, actor=staff, user_id=tenant.owner.user_id)
    with pytest.raises(PermissionDenied):
        with db.tenant_session(staff) as session:
            auth.list_users(session, actor=staff)
    assert count(User) == users_before
    assert count(User, User.removed_at.is_not(None)) == 0


def test_an_owner_cannot_remove_themselves(database):
    tenant = make_business()
    with pytest.raises(PermissionDenied, match="yourself"):
        with db.tenant_session(tenant.owner) as session:
            auth.remove_user(session, actor=tenant.owner, user_id=tenant.owner.user_id)
    assert auth.resolve_session(cookie=tenant.owner_cookie).user_id == tenant.owner.user_id


def test_removing_an_unknown_or_already_removed_user_is_not_found(database):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    with db.tenant_session(tenant.owner) as session:
        auth.remove_user(session, actor=tenant.owner, user_id=staff.user_id)
    for user_id in (staff.user_id, 999_999):
        with pytest.raises(NotFound):
            with db.tenant_session(tenant.owner) as session:
                auth.remove_user(session, actor=tenant.owner, user_id=user_id)
    with db.tenant_session(tenant.owner) as session:
        assert [u.username for u in auth.list_users(session, actor=tenant.owner)] == [tenant.username]
        everyone = auth.list_users(session, actor=tenant.owner, include_removed=True)
    assert {u.username for u in everyone} == {tenant.username, staff.username}


@pytest.mark.parametrize("clash", ["username", "email"])
@pytest.mark.parametrize("whose", ["same business", "another business", "an operator"])
def test_a_duplicate_username_or_email_is_a_conflict_and_writes_nothing(database, clash, whose):
    tenant = make_business()
    if whose == "same business":
        taken, _ = make_staff(tenant)
    elif whose == "another business":
        taken = make_business().owner
    else:
        taken, _ = make_operator()
    taken_email = rows(User, User.id == taken.user_id)[0].email
    fields = {"username": "fresh-name", "email": "fresh@example.com"}
    fields[clash] = taken.username.upper() if clash == "username" else taken_email.upper()
    users_before, events_before = count(User), count(AuditEvent)

    with pytest.raises(Conflict) as refused:
        auth.add_staff_user(actor=tenant.owner, display_name="Fresh", password=PASSWORD, **fields)
    expected = "already taken" if clash == "username" else "email already exists"
    assert expected in str(refused.value)
    assert count(User) == users_before
    assert count(AuditEvent) == events_before
    # A correct attempt afterwards goes through.
    auth.add_staff_user(actor=tenant.owner, username="fresh-name", email="fresh@example.com",
                        display_name="Fresh", password=PASSWORD)
    assert count(User) == users_before + 1


def test_staff_refused_as_taken_count_against_the_owners_network_and_staff_added_do_not(database):
    """An owner's account is one sign-up away for anyone, so the Team page's "already taken"
    answers are counted like sign-ups: ten an hour per network."""
    tenant = make_business()
    owner = tenant.owner.with_origin(PROBER)
    for n in range(12):  # a big team, added at once
        auth.add_staff_user(actor=owner, username=f"stylist{n}", email=f"stylist{n}@example.com",
                            display_name=f"Stylist {n}", password=PASSWORD)
    for n in range(auth.NEW_ACCOUNTS_PER_NETWORK.attempts):
        with pytest.raises(Conflict, match="already taken"):
            auth.add_staff_user(actor=owner, username=tenant.username, email=f"probe{n}@example.com",
                                display_name="Probe", password=PASSWORD)
    users_before = count(User)
    for username in ("stylist99", tenant.username):
        with pytest.raises(RateLimited) as refused:
            auth.add_staff_user(actor=owner, username=username, email="late@example.com", display_name="Late",
                                password=PASSWORD)
        assert TOO_MANY.fullmatch(str(refused.value))
    assert count(User) == users_before
    [event] = _events("auth.rate_limited")
    assert (event.actor_user_id, event.business_id) == (tenant.owner.user_id, tenant.business_id)
    assert event.detail == {"limit": "new_account", "attempts": 10, "minutes": 60}
    # From another network the owner goes on adding staff.
    auth.add_staff_user(actor=tenant.owner.with_origin(OTHER_BROWSER), username="stylist99",
                        email="late@example.com", display_name="Late", password=PASSWORD)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": "has space"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "new\x00staff@example.com"}, "email"),
        ({"display_name": "  "}, "display_name"),
        ({"password": "too short"}, "password"),
        ({"password": PASSWORD + "\x00"}, "password"),
    ],
    ids=["short-username", "bad-username", "bad-email", "nul-in-email", "blank-name", "short-password",
         "nul-in-password"],
)
def test_bad_staff_details_are_refused_and_write_nothing(database, fields, field):
    tenant = make_business()
    values = {"username": "new-staff", "email": "new-staff@example.com", "display_name": "New Staff",
              "password": PASSWORD, **fields}
    users_before = count(User)
    with pytest.raises(ValidationError) as refused:
        auth.add_staff_user(actor=tenant.owner, **values)
    assert refused.value.field == field
    assert count(User) == users_before


# --- operators --------------------------------------------------------------------------


def test_create_operator_makes_a_businessless_operator_who_can_sign_in(database):
    user = auth.create_operator(username="Ops.Kim", email="kim@kaimen.example", display_name="Kim Ops",
                                password=PASSWORD)
    assert (user.username, user.role, user.business_id) == ("ops.kim", "operator", None)
    signed_in = auth.sign_in(username="ops.kim", password=PASSWORD, origin=ORIGIN)
    assert signed_in.actor.is_operator and signed_in.actor.business_id is None
    [event] = _events("user.added")
    assert event.actor_label == "system" and event.detail == {"role": "operator", "via": "command_line"}

    before = count(User)
    with pytest.raises(Conflict):
        auth.create_operator(username="ops.kim", email="other@kaimen.example", display_name="Kim Again",
                             password=PASSWORD)
    with pytest.raises(ValidationError):
        auth.create_operator(username="ops.lee", email="lee@kaimen.example", display_name="Lee", password="short")
    assert count(User) == before


def test_team_lists_owners_first_then_staff_by_username(database):
    tenant = make_business()
    for name in ("zed", "amy"):
        auth.add_staff_user(actor=tenant.owner, username=name, email=f"{name}@example.com",
                            display_name=name.title(), password=PASSWORD)
    with db.tenant_session(tenant.owner) as session:
        users = auth.list_users(session, actor=tenant.owner)
    assert [(u.role, u.username) for u in users] == [("owner", tenant.username), ("staff", "amy"), ("staff", "zed")]
