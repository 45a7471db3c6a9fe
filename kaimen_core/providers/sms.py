"""SMS providers: Twilio on the official SDK, and the offline outbox twin.

One small interface (:class:`SmsProvider`): ``send`` one text, ``find_sent`` (to
reconcile after a crash: was this text already accepted?) and ``delete_message``
(privacy erasure). :func:`get_provider` picks
Twilio when ``TWILIO_ACCOUNT_SID`` and ``TWILIO_AUTH_TOKEN`` are set, else the outbox;
:func:`account_provider` is Twilio for a business's own account (kept per account).
Webhook signatures are checked in ``kaimen_core.messaging._twilio_verifier``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from kaimen_core.config import Settings, get_settings

__all__ = ["OutboxProvider", "SendResult", "SmsError", "SmsProvider", "TwilioProvider", "account_provider",
           "get_provider"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered: its id for the text and the status it reported."""

    sid: str
    status: str


class SmsError(Exception):
    """The provider refused or could not be reached; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = True,
                 ambiguous: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        #: the request may have reached the provider (no answer came back): reconcile before resending
        self.ambiguous = ambiguous


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, from_: str, body: str, status_callback: str | None) -> SendResult: ...

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SendResult | None: ...

    def delete_message(self, sid: str) -> None: ...


class OutboxProvider:
    """Offline twin: the message row itself is the local outbox; every text is delivered at once."""

    name = "outbox"

    def send(self, *, to: str, from_: str, body: str, status_callback: str | None) -> SendResult:
        return SendResult(sid="OB" + uuid.uuid4().hex, status="delivered")

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SendResult | None:
        return None  # nothing leaves the machine, so nothing can have been half-sent

    def delete_message(self, sid: str) -> None:
        """Nothing to do: the outbox is the message row itself, which erasure removes."""


class TwilioProvider:
    """Twilio's Messages API through the ``twilio`` SDK (``api_base`` reroutes it to a fake server)."""

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *, api_base: str | None = None,
                 timeout: float = 10.0) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        class _Rebased(TwilioHttpClient):
            def request(self, method, url, *args, **kwargs):
                if api_base:
                    base = urlsplit(api_base)
                    parts = urlsplit(url)
                    url = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
                return super().request(method, url, *args, **kwargs)

        self._client = Client(account_sid, auth_token, http_client=_Rebased(timeout=timeout, max_retries=0))

    def send(self, *, to: str, from_: str, body: str, status_callback: str | None) -> SendResult:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        kwargs = {"to": to, "from_": from_, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self._client.messages.create(**kwargs)
        except TwilioRestException as exc:
            retryable = exc.status >= 500 or exc.status == 429
            raise SmsError(str(exc.msg)[:300], code=str(exc.code or exc.status), retryable=retryable) from None
        except (TwilioException, OSError) as exc:
            raise SmsError(f"Twilio could not be reached: {type(exc).__name__}", retryable=True,
                           ambiguous=True) from None
        return SendResult(sid=message.sid, status=message.status or "queued")

    def find_sent(self, *, to: str, from_: str, body: str, since: datetime) -> SendResult | None:
        from twilio.base.exceptions import TwilioException

        try:
            found = self._client.messages.list(to=to, from_=from_, date_sent_after=since - timedelta(minutes=5),
                                               limit=50)
        except (TwilioException, OSError) as exc:
            raise SmsError(f"Twilio could not be reached: {type(exc).__name__}", retryable=True) from None
        for message in found:
            if message.body == body:
                return SendResult(sid=message.sid, status=message.status or "sent")
        return None


    def delete_message(self, sid: str) -> None:
        """Delete Twilio's record of a text (erasure); one already gone counts as deleted."""
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            self._client.messages(sid).delete()
        except TwilioRestException as exc:
            if exc.status != 404:
                raise SmsError(str(exc.msg)[:300], code=str(exc.code or exc.status),
                               retryable=exc.status >= 500 or exc.status == 429) from None
        except (TwilioException, OSError) as exc:
            raise SmsError(f"Twilio could not be reached: {type(exc).__name__}", retryable=True) from None


def get_provider(settings: Settings | None = None) -> SmsProvider:
    """Twilio when its keys are set, else the offline outbox."""
    settings = settings or get_settings()
    if settings.twilio_account_sid and settings.twilio_auth_token:
        return TwilioProvider(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(),
                              api_base=settings.twilio_api_base)
    return OutboxProvider()


def account_provider(account_sid: str, auth_token: str) -> SmsProvider:
    """Twilio for a business's own account; one client per account (and token) per process."""
    return _account_provider(account_sid, auth_token, get_settings().twilio_api_base)


@lru_cache(maxsize=256)
def _account_provider(account_sid: str, auth_token: str, api_base: str | None) -> TwilioProvider:
    return TwilioProvider(account_sid, auth_token, api_base=api_base)
