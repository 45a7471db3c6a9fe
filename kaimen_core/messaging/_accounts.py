"""A business's own Twilio account (a subaccount): its SID, and its auth token sealed at rest.

Owners connect the account on the Messaging page; from then on the business's texts
are sent through that account and the webhooks for its number must be signed with that
account's token (``_twilio_verifier``). The token is encrypted with AES-256-GCM under a key
derived (HKDF-SHA256) from ``KAIMEN_SECRETS_KEY``, with the business's id as associated
data, so a sealed token copied into another business's row does not open. It is never
shown back (only its last four characters), never logged, never in an audit detail.

:func:`own_account` (the worker) and :func:`own_accounts_by_number` (the sidecar) are
Kaimen's own reads, made in a system session. The sidecar keeps the second in an
:class:`AccountMap`: read in one query, refreshed in the background every 30 seconds,
and re-read at once (at most once a second) when a request's signature is refused.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.config import get_settings, secrets_key
from kaimen_core.exceptions import ValidationError
from kaimen_core.messaging import _send
from kaimen_core.models import Business, MessagingSettings, utcnow

__all__ = [
    "AccountMap",
    "TwilioAccountView",
    "get_twilio_account",
    "own_account",
    "remove_twilio_account",
    "set_twilio_account",
]

log = logging.getLogger(__name__)

_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TOKEN = re.compile(r"[0-9a-fA-F]{32}")
_VERSION = "v1:"


@dataclass(frozen=True, slots=True)
class TwilioAccountView:
    """A business's own Twilio account as pages show it: the SID and the token's last four characters only."""

    account_sid: str | None = None
    token_ending: str | None = None
    #: False when a token is stored but cannot be decrypted with the current KAIMEN_SECRETS_KEY
    readable: bool = True

    @property
    def connected(self) -> bool:
        return self.account_sid is not None


@dataclass(frozen=True, slots=True)
class OwnAccount:
    """A business's own Twilio account with its token (None when it cannot be decrypted); Kaimen's use only."""

    business_id: int
    account_sid: str
    auth_token: str | None = field(repr=False)


@lru_cache(maxsize=4)
def _cipher(key_material: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"kaimen stored secrets v1").derive(key_material)
    return AESGCM(key)


def _context(business_id: int) -> bytes:
    return f"messaging_settings:{business_id}:twilio_auth_token".encode()


def seal(secret: str, *, business_id: int) -> str:
    """``secret`` encrypted for ``business_id``'s row: ``v1:`` + base64(nonce + ciphertext + tag)."""
    nonce = os.urandom(12)
    sealed = _cipher(secrets_key(get_settings())).encrypt(nonce, secret.encode(), _context(business_id))
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(sealed: str, *, business_id: int) -> str | None:
    """The secret sealed for ``business_id``; None when it does not open (another key, another row, damaged)."""
    if not sealed.startswith(_VERSION):
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_VERSION):])
        return _cipher(secrets_key(get_settings())).decrypt(raw[:12], raw[12:], _context(business_id)).decode()
    except (InvalidTag, ValueError):
        return None


def _view(row: MessagingSettings) -> TwilioAccountView:
    if not row.twilio_account_sid:
        return TwilioAccountView()
    token = unseal(row.twilio_auth_token_sealed or "", business_id=row.business_id)
    return TwilioAccountView(row.twilio_account_sid, token[-4:] if token else None, token is not None)


def get_twilio_account(session: Session, *, actor: Actor) -> TwilioAccountView:
    """Owners: the business's own Twilio account, if connected (never the token itself)."""
    actor.require("owner")
    return _view(_send.settings_for(session, actor.business_id))


def set_twilio_account(session: Session, *, actor: Actor, account_sid: str, auth_token: str) -> TwilioAccountView:
    """Owners connect (or replace) the business's own Twilio account; the token is stored encrypted."""
    actor.require("owner")
    account_sid, auth_token = (account_sid or "").strip(), (auth_token or "").strip()
    if not _SID.fullmatch(account_sid):
        raise ValidationError("An Account SID is AC followed by 32 hexadecimal characters (Twilio console, "
                              "Account info).", field="account_sid")
    account_sid = "AC" + account_sid[2:].lower()
    if account_sid == (get_settings().twilio_account_sid or "").strip():
        raise ValidationError("That is Kaimen's own Twilio account; give your business's account or subaccount.",
                              field="account_sid")
    if not _TOKEN.fullmatch(auth_token):
        raise ValidationError("An Auth Token is 32 hexadecimal characters (Twilio console, Account info).",
                              field="auth_token")
    row = _send.settings_for(session, actor.business_id)
    replaced = row.twilio_account_sid is not None
    row.twilio_account_sid = account_sid
    row.twilio_auth_token_sealed = seal(auth_token.lower(), business_id=actor.business_id)
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="messaging.twilio_account_set", target_type="business",
                 target_id=actor.business_id, detail={"account_sid": account_sid, "replaced": replaced})
    return _view(row)


def remove_twilio_account(session: Session, *, actor: Actor) -> TwilioAccountView:
    """Owners disconnect the business's own Twilio account: texts go through Kaimen's account again."""
    actor.require("owner")
    row = _send.settings_for(session, actor.business_id)
    if row.twilio_account_sid is None and row.twilio_auth_token_sealed is None:
        return TwilioAccountView()
    row.twilio_account_sid = row.twilio_auth_token_sealed = None
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="messaging.twilio_account_removed", target_type="business",
                 target_id=actor.business_id)
    return TwilioAccountView()


def own_account(session: Session, business_id: int) -> OwnAccount | None:
    """The business's own Twilio account with its token, or None when it uses Kaimen's (system sessions)."""
    row = session.exec(select(MessagingSettings.twilio_account_sid, MessagingSettings.twilio_auth_token_sealed)
                       .where(MessagingSettings.business_id == business_id)).first()
    if row is None or not row[0]:
        return None
    return OwnAccount(business_id, row[0], unseal(row[1] or "", business_id=business_id))


def own_accounts_by_number(session: Session) -> dict[str, OwnAccount]:
    """Every messaging number whose business has its own Twilio account (the sidecar's map; system sessions)."""
    rows = session.exec(
        select(Business.messaging_number, MessagingSettings.business_id, MessagingSettings.twilio_account_sid,
               MessagingSettings.twilio_auth_token_sealed)
        .join(Business, col(Business.id) == col(MessagingSettings.business_id))
        .where(col(MessagingSettings.twilio_account_sid).is_not(None), col(Business.messaging_number).is_not(None))
    ).all()
    return {number: OwnAccount(business_id, sid, unseal(sealed or "", business_id=business_id))
            for number, business_id, sid, sealed in rows}


def _load_accounts(engine: Engine | None) -> dict[str, OwnAccount]:
    with db.system_session(engine=engine) as session:
        return own_accounts_by_number(session)


class AccountMap:
    """Messaging numbers whose business has its own Twilio account, with the account: one per process.

    The first request waits for the first read; after that a map older than ``ttl``
    seconds is answered as it is while a new one is read in the background. ``refresh``
    (after a refused signature) reads it again unless it was read in the last
    ``min_interval`` seconds, so refused requests cost at most one query a second.
    """

    def __init__(self, *, engine: Engine | None = None, ttl: float = 30.0, min_interval: float = 1.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self.min_interval = min_interval
        self._accounts: dict[str, OwnAccount] | None = None
        self._read_at = float("-inf")
        self._reading: asyncio.Future[None] | None = None

    async def current(self) -> Mapping[str, OwnAccount]:
        """The map; waits only for the first read."""
        if self._accounts is None:
            await self._read()
        elif time.monotonic() - self._read_at >= self.ttl and self._reading is None:
            task = asyncio.get_running_loop().create_task(self._read())
            task.add_done_callback(_quietly)
        return self._accounts or {}

    async def refresh(self) -> bool:
        """Read the map again unless it is fresh; True when a new map was read."""
        if time.monotonic() - self._read_at < self.min_interval:
            return False
        await self._read()
        return True

    async def _read(self) -> None:
        """One read at a time: callers arriving while it runs wait for the same one."""
        if self._reading is not None:
            await asyncio.shield(self._reading)
            return
        self._reading = asyncio.get_running_loop().create_future()
        try:
            accounts = await asyncio.get_running_loop().run_in_executor(None, _load_accounts, self.engine)
        except BaseException as exc:
            self._read_at = time.monotonic() - self.ttl + self.min_interval  # try again in a second
            self._reading.set_exception(exc)
            self._reading.exception()  # retrieved: a background read's failure is only logged
            raise
        else:
            self._accounts, self._read_at = accounts, time.monotonic()
            self._reading.set_result(None)
        finally:
            self._reading = None


def _quietly(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("the map of businesses' Twilio accounts could not be read: %s", type(task.exception()).__name__)
