"""Twilio as a webhooks provider: its two paths, its verifier, its appliers, and what operators see of a payload.

``POST /twilio/sms`` carries inbound texts and ``POST /twilio/status`` delivery status
callbacks, both form-encoded and signed (``_twilio_verifier``); a stored event is
answered with empty TwiML. Inbound texts (and the Inbox's simulated ones) are applied by
:func:`~kaimen_core.messaging._inbound_texts.apply_inbound_texts`, status callbacks by
:func:`~kaimen_core.messaging._status_callbacks.apply_status_callbacks`.
"""

from __future__ import annotations

from typing import Any

from kaimen_core.logs import mask_phone
from kaimen_core.messaging._inbound_texts import apply_inbound_texts
from kaimen_core.messaging._status_callbacks import apply_status_callbacks
from kaimen_core.messaging._twilio_verifier import QUERY_KEY, TwilioVerifier
from kaimen_core.webhooks import Provider, Reply

__all__ = ["EMPTY_TWIML", "TWILIO_WEBHOOKS", "shown_payload"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
#: Fields shown as they are: provider ids, statuses, counts and codes; the callback's own message id.
_SHOWN = frozenset({"MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "MessageStatus",
                    "SmsStatus", "NumMedia", "NumSegments", "ErrorCode", "ApiVersion", "erased", QUERY_KEY})
_PHONES = frozenset({"From", "To"})
_SIZED = ("Body", "MediaUrl")


def shown_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A payload safe to show an operator: no full phone number, no message text, no media link."""
    shown: dict[str, Any] = {}
    for name, value in payload.items():
        if name in _SHOWN:
            shown[name] = value
        elif name in _PHONES:
            shown[name] = mask_phone(str(value))
        elif name.startswith(_SIZED):
            shown[name] = f"[{len(str(value))} characters]"
        else:
            shown[name] = "[hidden]"
    return shown


TWILIO_WEBHOOKS = Provider(
    name="twilio",
    paths=("/twilio/sms", "/twilio/status"),
    content_type="application/x-www-form-urlencoded",
    verifier=TwilioVerifier,
    appliers={"sms.inbound": apply_inbound_texts, "sms.simulated": apply_inbound_texts,
              "sms.status": apply_status_callbacks},
    accepted=Reply(200, EMPTY_TWIML, "text/xml"),
    shown=shown_payload,
)
