"""Twilio's webhook requests verified: the signature on the raw form body, with the one token that may sign it.

The webhooks package has already read the body within its limit and checked that it is
form-encoded. :class:`TwilioVerifier` answers a :class:`~kaimen_core.webhooks.VerifiedEvent`
(an inbound text under its MessageSid, a status callback under ``sid:status``) or a
:class:`~kaimen_core.webhooks.Refusal`: 400 for a body that does not parse or lacks a
required field, 403 for a missing or wrong signature (or no token or public URL
configured). The signature follows Twilio's ``RequestValidator`` (tested against it):
HMAC-SHA1 over ``KAIMEN_PUBLIC_URL`` + path (+ query), with or without its port, and
every POST parameter, unknown ones included.

Which token: a Twilio number lives in exactly one Twilio account, and only that
account's token is accepted for it. The request's number is ``To`` for an inbound text
and ``From`` (the business's number, which sent the text) for a status callback. When
that number's business has connected its own account, the request must carry that
account's ``AccountSid`` and be signed with its token (the platform token is refused for
it); any other number is checked with the platform token. The event's ``signer`` says
which (``platform`` or ``business:<id>``); the appliers refuse an event whose signer is
not the business it would be applied to, which keeps the rule while the map of accounts
(:class:`~kaimen_core.messaging._accounts.AccountMap`, kept in memory and re-read at
most once a second when a signature is refused) is a few seconds old.
"""

from __future__ import annotations

import base64
import hmac
import logging
from collections.abc import Mapping
from functools import lru_cache
from hashlib import sha1
from urllib.parse import unquote_plus, urlsplit

from sqlalchemy import Engine

from kaimen_core.config import get_settings
from kaimen_core.logs import failure_reason
from kaimen_core.messaging._accounts import AccountMap, OwnAccount
from kaimen_core.models import business_signer
from kaimen_core.webhooks import Refusal, VerifiedEvent, WebhookRequest

__all__ = ["TwilioVerifier", "form_fields", "signer_business", "valid_signature", "verify_twilio"]

log = logging.getLogger(__name__)
_REQUIRED = {"/twilio/sms": ("MessageSid", "From", "To"), "/twilio/status": ("MessageSid", "MessageStatus")}
_KINDS = {"/twilio/sms": "sms.inbound", "/twilio/status": "sms.status"}
#: The query string of a status callback URL (``m=<message id>``), kept beside Twilio's own parameters.
QUERY_KEY = "_query"
INVALID_SIGNATURE = Refusal(403, "invalid signature")
_NOT_CONFIGURED = Refusal(403, "Twilio webhooks are not configured")
_UNAVAILABLE = Refusal(503, "the database cannot be read; try again")


@lru_cache(maxsize=64)
def _signed_urls(url: str) -> tuple[str, ...]:
    """The URL without and with its port, the two forms Twilio's RequestValidator accepts."""
    from twilio.request_validator import add_port, remove_port

    parsed = urlsplit(url)
    return tuple(dict.fromkeys((remove_port(parsed), add_port(parsed))))


def valid_signature(*, token: str, url: str, params: dict[str, str], signature: str | None) -> bool:
    """``twilio.request_validator.RequestValidator.validate`` for a form body, without its per-call overhead.

    HMAC-SHA1 (base64) over the URL and every parameter's name and value in name order,
    accepted for the URL with or without its port; compared in constant time.
    """
    if not signature or not token:
        return False
    signed = "".join(name + params[name] for name in sorted(params))
    key = token.encode("utf-8")
    return any(
        hmac.compare_digest(base64.b64encode(hmac.new(key, (form + signed).encode("utf-8"), sha1).digest()),
                            signature.encode("utf-8", "replace"))
        for form in _signed_urls(url))


def form_fields(text: str) -> dict[str, str]:
    """A form body's fields, the first value of each name; ValueError for a field without ``=``.

    What ``urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=True)``
    gives (then first value wins), without decoding fields that hold no ``%`` or ``+``.
    """
    params: dict[str, str] = {}
    if not text:
        return params
    for field in text.split("&"):
        name, equals, value = field.partition("=")
        if not equals:
            raise ValueError("bad form field")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        if name not in params:
            params[name] = value
    return params


def signer_business(signer: str) -> int | None:
    """The business whose own Twilio account signed an event; None for the platform's (or a simulation)."""
    return int(signer[9:]) if signer.startswith("business:") and signer[9:].isdigit() else None


def _refuse(reason: str) -> Refusal:
    return Refusal(400, reason, recorded=True)


def verify_twilio(request: WebhookRequest, accounts: Mapping[str, OwnAccount]) -> VerifiedEvent | Refusal:
    """The event in a form-encoded request within the size limit, or why it is refused (no database work).

    ``accounts`` maps the messaging numbers of businesses with their own Twilio account to
    that account: the request's number picks the one token that may sign it.
    """
    try:
        params = form_fields(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _refuse("body does not parse")
    settings = get_settings()
    own = accounts.get(params.get("To" if request.path == "/twilio/sms" else "From", "")) if accounts else None
    if own is not None:
        if params.get("AccountSid") != own.account_sid:
            return INVALID_SIGNATURE
        token, signer = own.auth_token or "", business_signer(own.business_id)
    else:
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        signer = "platform"
    if not token or not settings.public_url:
        return _NOT_CONFIGURED
    url = settings.public_url + request.path + (f"?{request.query}" if request.query else "")
    if not valid_signature(token=token, url=url, params=params, signature=request.headers.get("x-twilio-signature")):
        return INVALID_SIGNATURE
    for name in [name for name in params if name.startswith("_")]:
        del params[name]  # Kaimen's own keys are set below, never taken from the request
    missing = [name for name in _REQUIRED[request.path] if not params.get(name)]
    if missing:
        return _refuse("missing " + ",".join(missing))
    if request.path == "/twilio/sms":
        event_id = params["MessageSid"]
    else:
        event_id = f"{params['MessageSid']}:{params['MessageStatus']}"
        if request.query:
            params[QUERY_KEY] = request.query
    return VerifiedEvent(event_id=event_id[:120], kind=_KINDS[request.path], payload=params, signer=signer)


class TwilioVerifier:
    """Twilio's verifier for one sidecar process, with the process's map of businesses' own accounts."""

    def __init__(self, *, engine: Engine | None = None, accounts: AccountMap | None = None) -> None:
        self.accounts = accounts or AccountMap(engine=engine)

    async def verify(self, request: WebhookRequest) -> VerifiedEvent | Refusal:
        """The verified event; a refused signature re-reads the map of accounts (at most once a second) and
        is checked once more, so an account just connected or changed is not refused while the map is old."""
        try:
            accounts = await self.accounts.current()
        except Exception as exc:  # the database cannot be read: nothing could be stored either
            log.error("the map of businesses' Twilio accounts could not be read: %s", failure_reason(exc))
            return _UNAVAILABLE
        checked = verify_twilio(request, accounts)
        if checked is INVALID_SIGNATURE and await self._refreshed():
            checked = verify_twilio(request, await self.accounts.current())
        return checked

    async def _refreshed(self) -> bool:
        try:
            return await self.accounts.refresh()
        except Exception:
            return False  # keep the refusal; the failure is logged by the next read

    async def aclose(self) -> None:
        """Nothing to release: the map's reads run on the engine's pooled connections."""
