"""Per-network limits on signing in and on creating accounts, counted in the database.

Lockout stops guessing at one account; these stop one network from trying many. From one
network (an IPv4 address, or the /64 an IPv6 address is in: what one home or office is
given) at most :data:`SIGN_IN_PER_NETWORK` failed sign-ins and
:data:`NEW_ACCOUNTS_PER_NETWORK` attempts to create an account (sign-ups, and staff an owner
tried to add under a username or email that is taken) are let through in any window. Past
the limit an attempt is refused before anything is looked up, so probing for accounts is
slow; the first refusal of a block is audited (``auth.rate_limited``: which limit, never
what was typed), once.

The count has the shape of lockout's (:func:`kaimen_core.auth._sessions._claim_attempt`):
one row per attempt let through, counted and written under a lock per network (a
transaction-level advisory lock on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises
writers), so however many replicas take attempts at once, no more than the limit get
through in a window. The attempt is counted before it runs; one that should not count (a
sign-in with the right password, a staff member added) gives its row back. The network is
stored as a hash keyed with the cookie key, so the table holds no address.

An origin without an address (the command line; Streamlit reports none for a browser on the
same machine) is not limited; in production each such attempt logs a warning, since there it
means the proxy in front of the app does not pass the visitor's address on (see the README's
Deployment).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlmodel import Session, col, delete, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor, Origin
from kaimen_core.config import cookie_key, get_settings
from kaimen_core.exceptions import Conflict, RateLimited
from kaimen_core.models import NetworkAttempt, utcnow

__all__ = [
    "NEW_ACCOUNTS_PER_NETWORK",
    "SIGN_IN_PER_NETWORK",
    "NetworkLimit",
    "claim_network_attempt",
    "give_back",
    "new_account_attempt",
    "purge_network_attempts",
    "visitor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NetworkLimit:
    """At most ``attempts`` counted attempts of ``action`` from one network in any ``window``."""

    action: str
    attempts: int
    window: timedelta


#: Failed sign-ins (a sign-in with the right password gives its count back): four accounts'
#: worth of lockouts, far above what an office's staff mistype.
SIGN_IN_PER_NETWORK = NetworkLimit("sign_in", 20, timedelta(minutes=15))
#: Sign-ups, and staff additions refused because the username or email is taken.
NEW_ACCOUNTS_PER_NETWORK = NetworkLimit("new_account", 10, timedelta(hours=1))
#: Rows older than this are deleted by the daily purge (every window is shorter).
_KEPT = timedelta(days=1)


def visitor(origin: Origin) -> Actor:
    """The actor an anonymous visitor's refusals are audited as (no name: nobody is signed in)."""
    return Actor(role="unknown", username="?", origin=origin)


def _network_hash(ip_address: str) -> str:
    """A keyed hash of the network ``ip_address`` is in: the address itself for IPv4, its /64 for IPv6."""
    try:
        address = ipaddress.ip_address(ip_address.split("%", 1)[0])
    except ValueError:
        network = ip_address.strip().lower()
    else:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        network = str(ipaddress.ip_network(f"{address}/64", strict=False)) if address.version == 6 else str(address)
    return hmac.new(cookie_key(get_settings()), f"network|{network}".encode(), hashlib.sha256).hexdigest()


def claim_network_attempt(session: Session, *, limit: NetworkLimit, actor: Actor,
                          now: datetime | None = None) -> int | RateLimited | None:
    """Count one attempt from the actor's network: the id of its row, the refusal to raise, or
    None when the origin has no address.

    The refusal is returned, not raised, so the caller's transaction commits the block's
    refusal row and its audit event.
    """
    if not actor.origin.ip_address:
        if get_settings().environment == "production":
            log.warning("%s attempt without a client address, so no per-network limit applies: "
                        "the proxy in front of the app must send X-Forwarded-For", limit.action)
        return None
    now = now or utcnow()
    network = _network_hash(actor.origin.ip_address)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"network:{limit.action}:{network}"})
    recent = session.exec(
        select(NetworkAttempt.created_at, NetworkAttempt.refused)
        .where(NetworkAttempt.action == limit.action, NetworkAttempt.network_hash == network,
               NetworkAttempt.created_at > now - limit.window)
        .order_by(col(NetworkAttempt.created_at))
    ).all()
    counted = [created_at for created_at, refused in recent if not refused]
    if len(counted) < limit.attempts:
        row = NetworkAttempt(action=limit.action, network_hash=network, created_at=now)
        session.add(row)
        session.flush()
        return row.id
    if not any(refused for _, refused in recent):  # the block's first refusal
        session.add(NetworkAttempt(action=limit.action, network_hash=network, refused=True, created_at=now))
        audit.record(session, actor=actor, action="auth.rate_limited",
                     detail={"limit": limit.action, "attempts": limit.attempts,
                             "minutes": int(limit.window.total_seconds() // 60)})
    return RateLimited(counted[0] + limit.window, now=now)


def give_back(session: Session, claim: int | None) -> None:
    """Take back an attempt that should not count (a right password, a staff member added)."""
    if claim is not None:
        session.exec(delete(NetworkAttempt).where(col(NetworkAttempt.id) == claim))


@contextmanager
def new_account_attempt(*, actor: Actor, successes_count: bool, engine: Engine | None = None) -> Iterator[None]:
    """Count an attempt to create an account from the actor's network around the body that tries it.

    Over :data:`NEW_ACCOUNTS_PER_NETWORK`, :class:`RateLimited` is raised before the body
    runs. The count stays when the body finds the username or email taken (``Conflict``: the
    answer that says an account exists) and, with ``successes_count``, when it succeeds (a
    sign-up makes a business); any other outcome (input refused, an owner's staff member
    added) gives it back. The count has its own transaction, so the body's rollback keeps it.
    """
    with db.system_session(engine=engine) as session:
        claim = claim_network_attempt(session, limit=NEW_ACCOUNTS_PER_NETWORK, actor=actor)
    if isinstance(claim, RateLimited):
        raise claim
    try:
        yield
    except Conflict:
        raise
    except BaseException:
        _give_back_alone(claim, engine)
        raise
    if not successes_count:
        _give_back_alone(claim, engine)


def _give_back_alone(claim: int | None, engine: Engine | None) -> None:
    if claim is not None:
        with db.system_session(engine=engine) as session:
            give_back(session, claim)


def purge_network_attempts(session: Session, *, now: datetime | None = None) -> int:
    """Delete the rows of attempts long past (in a system session); returns how many went."""
    cutoff = (now or utcnow()) - _KEPT
    return session.exec(delete(NetworkAttempt).where(col(NetworkAttempt.created_at) < cutoff)).rowcount
