"""Sign-in, sign-out, lockout, and the server-side sessions behind the browser cookie.

The browser holds ``<token>.<signature>``; the database holds only a SHA-256 of the
token. Every run of the app resolves the cookie again (:func:`resolve_session`), so a
session stops working the moment it is signed out or revoked, its user is removed, or
its business is suspended, whatever the browser still holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor, Origin
from kaimen_core.auth._limits import SIGN_IN_PER_NETWORK, claim_network_attempt, give_back, visitor
from kaimen_core.auth._passwords import verify_password, waste_a_check
from kaimen_core.config import cookie_key, get_settings
from kaimen_core.exceptions import AccountLocked, InvalidCredentials, RateLimited, SessionInvalid
from kaimen_core.models import Business, LoginAttempt, User, UserSession, utcnow
from kaimen_core.validators import has_control_characters

__all__ = [
    "LOCKOUT_ATTEMPTS",
    "LOCKOUT_WINDOW",
    "SignedIn",
    "actor_for",
    "open_session",
    "resolve_session",
    "revoke_sessions",
    "sign_in",
    "sign_out",
]

LOCKOUT_ATTEMPTS = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
_TOUCH_EVERY = timedelta(minutes=5)
_LONGEST_NAME = 254  # the longest email; usernames are shorter
_SUSPENDED = "This business's Kaimen account is suspended. Contact Kaimen support."


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new sign-in: the cookie value for the browser and the actor it stands for."""

    cookie: str
    actor: Actor
    expires_at: datetime


def _username_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def _signature(token: str) -> str:
    digest = hmac.new(cookie_key(get_settings()), token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_from_cookie(cookie: str | None) -> str | None:
    if not isinstance(cookie, str):
        return None
    token, _, signature = cookie.partition(".")
    # A cookie is whatever the browser sends; ours is ASCII, and compare_digest refuses a str
    # with any other character.
    if not token or not signature or not cookie.isascii() or not hmac.compare_digest(signature, _signature(token)):
        return None
    return token


def actor_for(user: User, *, session_id: int | None = None, origin: Origin | None = None) -> Actor:
    """The actor a user acts as."""
    return Actor(
        role=user.role,
        user_id=user.id,
        business_id=user.business_id,
        username=user.username,
        display_name=user.display_name,
        session_id=session_id,
        origin=origin or Origin(),
    )


def open_session(session: Session, *, user: User, origin: Origin) -> SignedIn:
    """Start a signed-in session for ``user`` (after a password check or at sign-up)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(days=get_settings().session_days)
    row = UserSession(
        user_id=user.id,
        business_id=user.business_id,
        token_hash=_token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
        ip_address=origin.ip_address,
        user_agent=(origin.user_agent or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    actor = actor_for(user, session_id=row.id, origin=origin)
    return SignedIn(cookie=f"{token}.{_signature(token)}", actor=actor, expires_at=expires_at)


def _locked_until(session: Session, key: str, now: datetime) -> datetime | None:
    """When the username unlocks, if the last five failures fell within the window."""
    last_success = session.exec(
        select(LoginAttempt.created_at)
        .where(LoginAttempt.username_hash == key, LoginAttempt.outcome == "success")
        .order_by(col(LoginAttempt.created_at).desc())
        .limit(1)
    ).first()
    query = select(LoginAttempt.created_at).where(
        LoginAttempt.username_hash == key,
        LoginAttempt.outcome == "failure",
        LoginAttempt.created_at > now - 2 * LOCKOUT_WINDOW,
    )
    if last_success is not None:
        query = query.where(LoginAttempt.created_at > last_success)
    failures = session.exec(
        query.order_by(col(LoginAttempt.created_at).desc()).limit(LOCKOUT_ATTEMPTS)
    ).all()
    if len(failures) < LOCKOUT_ATTEMPTS or failures[0] - failures[-1] > LOCKOUT_WINDOW:
        return None
    until = failures[0] + LOCKOUT_WINDOW
    return until if until > now else None


def _find_user(session: Session, username: str) -> User | None:
    name = username.strip().lower()
    return session.exec(
        select(User).where(
            (User.username == name) | (User.email == name), col(User.removed_at).is_(None)
        )
    ).first()


def _claim_attempt(session: Session, key: str, now: datetime, origin: Origin) -> LoginAttempt | datetime:
    """Count and claim one password check for ``key`` atomically: the attempt, or when the lock ends.

    The attempt is written as a failure before the password is checked and becomes a
    success only if the check passes, so a check is always counted. The count and the
    claim run under a lock per username (a transaction-level advisory lock on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), so however many
    processes try one account at once, at most ``LOCKOUT_ATTEMPTS`` checks run in a window.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": "signin:" + key})
    locked_until = _locked_until(session, key, now)
    if locked_until is not None:
        session.add(LoginAttempt(username_hash=key, outcome="locked", ip_address=origin.ip_address))
        return locked_until
    attempt = LoginAttempt(username_hash=key, outcome="failure", ip_address=origin.ip_address, created_at=now)
    session.add(attempt)
    session.flush()
    return attempt


def sign_in(*, username: str, password: str, origin: Origin, engine: Engine | None = None) -> SignedIn:
    """Check a username (or email) and password; raise InvalidCredentials, AccountLocked or RateLimited.

    A field that is empty, holds a control character, or is longer than any username or
    email is refused before anything is looked up, with the answer a wrong password gets.
    Then the attempt is counted against the visitor's network (:data:`SIGN_IN_PER_NETWORK`;
    a right password gives it back) and against the account: lockout is per username, in
    the database, so it holds across browsers and replicas; the attempt is counted before
    the password is checked (:func:`_claim_attempt`), and the slow check runs outside any
    transaction.
    """
    typed = (username or "").strip()
    if not typed or len(typed) > _LONGEST_NAME or not password or has_control_characters(typed + password):
        raise InvalidCredentials()
    now = utcnow()
    with db.system_session(engine=engine) as session:
        network = claim_network_attempt(session, limit=SIGN_IN_PER_NETWORK, actor=visitor(origin), now=now)
        if not isinstance(network, RateLimited):
            user = _find_user(session, typed)
            user_id, password_hash = (user.id, user.password_hash) if user else (None, None)
            # One count per account, whether its username or its email was typed; an unknown
            # name is counted as typed.
            key = _username_key(user.username if user else typed)
            claimed = _claim_attempt(session, key, now, origin)
    if isinstance(network, RateLimited):
        raise network
    if isinstance(claimed, datetime):
        raise AccountLocked(claimed)
    ok = verify_password(password, password_hash) if password_hash else waste_a_check(password)
    with db.system_session(engine=engine) as session:
        user = session.get(User, user_id) if ok else None
        if user is not None and user.removed_at is None:
            session.get(LoginAttempt, claimed.id).outcome = "success"  # the password was right
            give_back(session, network)
            business = session.get(Business, user.business_id) if user.business_id else None
            if business is None or business.status == "active":
                signed_in = open_session(session, user=user, origin=origin)
                audit.record(session, actor=signed_in.actor, action="auth.sign_in")
                return signed_in
            refusal: Exception = SessionInvalid(_SUSPENDED)
        else:
            refusal = _record_failure(session, key=key, user_id=user_id, now=now, origin=origin)
    raise refusal


def _record_failure(session: Session, *, key: str, user_id: int | None, now: datetime,
                    origin: Origin) -> Exception:
    """Audit a wrong password (and a lockout it completes); the error to raise."""
    user = session.get(User, user_id) if user_id else None
    who = actor_for(user, origin=origin) if user else visitor(origin)
    audit.record(session, actor=who, action="auth.sign_in_failed",
                 detail=None if user else {"username_fingerprint": key[:12]})
    locked_until = _locked_until(session, key, now)
    if locked_until is None:
        return InvalidCredentials()
    audit.record(session, actor=who, action="auth.locked_out", detail={"minutes": 15})
    return AccountLocked(locked_until)


def resolve_session(*, cookie: str | None, origin: Origin | None = None, engine: Engine | None = None) -> Actor:
    """The actor behind a browser's cookie, checked against the database on every call."""
    token = _token_from_cookie(cookie)
    if token is None:
        raise SessionInvalid("Please sign in.")
    now = utcnow()
    with db.system_session(engine=engine) as session:
        row = session.exec(
            select(UserSession, User, Business.status)
            .join(User, col(User.id) == UserSession.user_id)
            .outerjoin(Business, col(Business.id) == User.business_id)
            .where(UserSession.token_hash == _token_hash(token))
        ).first()
        if row is None:
            raise SessionInvalid("Please sign in.")
        user_session, user, business_status = row
        # Removal and suspension also revoke the sessions; they are checked first so the
        # person is told why, not just that they were signed out.
        if user.removed_at is not None:
            raise SessionInvalid("This account has been removed.")
        if user.business_id is not None and business_status != "active":
            raise SessionInvalid(_SUSPENDED)
        if user_session.revoked_at is not None:
            raise SessionInvalid("You have been signed out. Please sign in again.")
        if user_session.expires_at <= now:
            raise SessionInvalid("Your sign-in has expired. Please sign in again.")
        if now - user_session.last_seen_at > _TOUCH_EVERY:
            user_session.last_seen_at = now
            session.add(user_session)
        return actor_for(user, session_id=user_session.id, origin=origin)


def sign_out(*, cookie: str | None, origin: Origin | None = None, engine: Engine | None = None) -> None:
    """Revoke the session behind ``cookie`` (nothing happens for an unknown cookie)."""
    token = _token_from_cookie(cookie)
    if token is None:
        return
    with db.system_session(engine=engine) as session:
        row = session.exec(
            select(UserSession, User)
            .join(User, col(User.id) == UserSession.user_id)
            .where(UserSession.token_hash == _token_hash(token), col(UserSession.revoked_at).is_(None))
        ).first()
        if row is None:
            return
        user_session, user = row
        user_session.revoked_at = utcnow()
        user_session.revoked_reason = "sign_out"
        session.add(user_session)
        audit.record(
            session, actor=actor_for(user, session_id=user_session.id, origin=origin), action="auth.sign_out"
        )


def revoke_sessions(session: Session, *, user_id: int, reason: str, keep_session_id: int | None = None) -> int:
    """Revoke a user's live sessions (all but ``keep_session_id``); returns how many."""
    query = select(UserSession).where(
        UserSession.user_id == user_id, col(UserSession.revoked_at).is_(None)
    )
    if keep_session_id is not None:
        query = query.where(UserSession.id != keep_session_id)
    scope = db.scope_of(session)
    if not scope.cross_tenant:  # a business's session reaches only that business's sessions
        query = query.where(UserSession.business_id == scope.business_id)
    rows = session.exec(query).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        row.revoked_reason = reason
        session.add(row)
    return len(rows)
