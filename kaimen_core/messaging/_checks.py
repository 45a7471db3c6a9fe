"""Twilio's webhook requests, checked without the database: size, form encoding, signature, fields.

:func:`check_twilio` answers with a :class:`TwilioEvent` ready to be stored, or the
:class:`WebhookReply` refusing the request. The signature follows Twilio's
``RequestValidator`` (tested against it): HMAC-SHA1 over the URL Twilio called (with or
without its port) and every POST parameter, unknown ones included.

Which token: a Twilio number lives in exactly one Twilio account, and only that
account's token is accepted for it. The request's number is ``To`` for an inbound text
and ``From`` (the business's number, which sent the text) for a status callback. When
that number's business has connected its own account, the request must carry that
account's ``AccountSid`` and be signed with its token (Kaimen's platform token is
refused for it); any other number is checked with the platform token. So a business's
token never verifies a request for another business's number. The stored event records
who signed it (``_signer``), and the worker refuses an event whose signer is not the
business it would be applied to (``_inbound``, ``_together``), which keeps that rule
even while a process's map of accounts is a few seconds old.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from hashlib import sha1
from urllib.parse import unquote_plus, urlsplit

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM
from kaimen_core.config import get_settings
from kaimen_core.messaging._accounts import OwnAccount
from kaimen_core.models import utcnow

__all__ = ["EMPTY_TWIML", "MAX_BODY_BYTES", "TwilioEvent", "WebhookReply", "check_twilio", "form_fields",
           "signer_of", "valid_signature"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY_BYTES = 64 * 1024
_REQUIRED = {"/twilio/sms": ("MessageSid", "From", "To"), "/twilio/status": ("MessageSid", "MessageStatus")}
_KINDS = {"/twilio/sms": "sms.inbound", "/twilio/status": "sms.status"}
#: The query string of a status callback URL (``m=<message id>``), kept beside Twilio's own parameters.
QUERY_KEY = "_query"
#: Who signed the request: ``platform``, or ``business:<id>`` for a business's own Twilio account.
SIGNER_KEY = "_signer"


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What the sidecar answers; ``rejected`` names why a 400 is recorded as a system event."""

    status: int
    body: str = EMPTY_TWIML
    media_type: str = "text/xml"
    rejected: str | None = None


@dataclass(frozen=True, slots=True)
class TwilioEvent:
    """A verified Twilio request, ready to be stored once under its provider id."""

    event_id: str
    kind: str
    payload: dict[str, str]
    received_at: datetime


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


_NOT_CONFIGURED = WebhookReply(403, "Twilio webhooks are not configured", "text/plain")
INVALID_SIGNATURE = WebhookReply(403, "invalid signature", "text/plain")


def signer_of(payload: Mapping[str, object]) -> int | None:
    """The business whose own Twilio account signed a stored event; None for the platform's (or a simulation)."""
    signer = str(payload.get(SIGNER_KEY) or "")
    return int(signer[9:]) if signer.startswith("business:") and signer[9:].isdigit() else None


def _refuse(reason: str) -> WebhookReply:
    return WebhookReply(400, reason, "text/plain", rejected=reason)


def check_twilio(*, path: str, query: str, content_type: str | None, body: bytes, signature: str | None,
                 now: datetime | None = None,
                 accounts: Mapping[str, OwnAccount] | None = None) -> TwilioEvent | WebhookReply:
    """The request's checks, in order, without the database: a TwilioEvent, or the reply refusing it.

    Body over 64 KB, not form-encoded or unparsable: 400 (to be recorded). No token or
    public URL configured, or a missing or wrong signature over ``KAIMEN_PUBLIC_URL`` +
    path (+ query) and every POST parameter: 403, nothing recorded. Missing fields: 400.
    ``accounts`` maps the messaging numbers of businesses with their own Twilio account to
    that account: the request's number (``To``, or ``From`` for a status callback) picks
    the one token that may sign it (see the module's docstring).
    """
    if len(body) > MAX_BODY_BYTES:
        return _refuse("body over 64 KB")
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        return _refuse("body is not form-encoded")
    try:
        params = form_fields(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _refuse("body does not parse")
    settings = get_settings()
    own = accounts.get(params.get("To" if path == "/twilio/sms" else "From", "")) if accounts else None
    if own is not None:
        if params.get("AccountSid") != own.account_sid:
            return INVALID_SIGNATURE
        token, signer = own.auth_token or "", f"business:{own.business_id}"
    else:
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        signer = "platform"
    if not token or not settings.public_url:
        return _NOT_CONFIGURED
    url = settings.public_url + path + (f"?{query}" if query else "")
    if not valid_signature(token=token, url=url, params=params, signature=signature):
        return INVALID_SIGNATURE
    for name in [name for name in params if name.startswith("_")]:
        del params[name]  # Kaimen's own keys are set below, never taken from the request
    params[SIGNER_KEY] = signer
    missing = [name for name in _REQUIRED[path] if not params.get(name)]
    if missing:
        return _refuse("missing " + ",".join(missing))
    if path == "/twilio/sms":
        event_id = params["MessageSid"]
    else:
        event_id = f"{params['MessageSid']}:{params['MessageStatus']}"[:120]
        if query:
            params[QUERY_KEY] = query
    return TwilioEvent(event_id=event_id[:120], kind=_KINDS[path], payload=params, received_at=now or utcnow())


def record_rejection(path: str, reply: WebhookReply) -> None:
    """The system event for a refused body: the path, the reason and the status, nothing personal."""
    with db.system_session() as session:
        audit.record(session, actor=SYSTEM, action="webhook.rejected", business_id=None, target_type="twilio",
                     detail={"path": path, "reason": reply.rejected, "status": reply.status})
