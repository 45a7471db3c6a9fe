"""Messaging: the ONE path by which any text leaves Kaimen, and everything that comes back.

- :func:`send_text` (a person in the inbox) and :func:`notify_booking_change`
  (confirmations) decide through the one send path (``_send``): refuse, hold or queue,
  always recorded on the message with the reason; every accepted text is a message row
  plus a ``send_message`` job the worker delivers (:func:`deliver`, ``_delivery``).
- Twilio's webhooks (:data:`TWILIO_WEBHOOKS`, ``_twilio_webhooks``) plug into
  kaimen_core.webhooks' verify → store → apply: the signature with the token of the
  account that holds the number (``_twilio_verifier``), then the worker's appliers,
  one function each for one event or a batch: :func:`apply_inbound_texts`
  (``_inbound_texts``: texts, STOP/START/HELP keywords, plain-words stop requests) and
  :func:`apply_status_callbacks` (``_status_callbacks``: delivery status that never
  moves backwards, 21610 opting the customer out).
- A business's own Twilio account (``_accounts``): SID and auth token, the token sealed
  at rest; webhooks for its number must be signed with it, and its texts go through it.
- The inbox (``_inbox``), owner and operator settings (``_settings``), reminders
  (``_reminders``), and the pure text rules (``_text``, ``_window``).
"""

from kaimen_core.messaging._accounts import (
    AccountMap,
    TwilioAccountView,
    get_twilio_account,
    own_account,
    remove_twilio_account,
    set_twilio_account,
)
from kaimen_core.messaging._delivery import STATUS_RANK, RetryLater, deliver
from kaimen_core.messaging._inbound_texts import apply_inbound_texts
from kaimen_core.messaging._inbox import (
    FILTERS,
    ConversationRow,
    MessageView,
    Thread,
    get_thread,
    list_conversations,
    mark_read,
    resolve_flag,
    send_text,
    simulate_incoming,
    simulation_available,
)
from kaimen_core.messaging._reminders import CHANGES, notify_booking_change, send_due_reminders
from kaimen_core.messaging._send import AUTOMATED_KINDS, Decision
from kaimen_core.messaging._settings import (
    DEFAULT_TEMPLATES,
    PLACEHOLDERS,
    SettingsView,
    add_screening_term,
    get_messaging_settings,
    list_screening_terms,
    render,
    set_limits,
    update_messaging_settings,
)
from kaimen_core.messaging._status_callbacks import apply_status_callbacks
from kaimen_core.messaging._text import Segments, asks_to_stop, classify_keyword, phone_hash, segments
from kaimen_core.messaging._twilio_verifier import TwilioVerifier
from kaimen_core.messaging._twilio_webhooks import EMPTY_TWIML, TWILIO_WEBHOOKS

__all__ = [
    "AUTOMATED_KINDS",
    "CHANGES",
    "DEFAULT_TEMPLATES",
    "EMPTY_TWIML",
    "FILTERS",
    "PLACEHOLDERS",
    "STATUS_RANK",
    "TWILIO_WEBHOOKS",
    "AccountMap",
    "ConversationRow",
    "Decision",
    "MessageView",
    "RetryLater",
    "Segments",
    "SettingsView",
    "Thread",
    "TwilioAccountView",
    "TwilioVerifier",
    "add_screening_term",
    "apply_inbound_texts",
    "apply_status_callbacks",
    "asks_to_stop",
    "classify_keyword",
    "deliver",
    "get_messaging_settings",
    "get_thread",
    "get_twilio_account",
    "list_conversations",
    "list_screening_terms",
    "mark_read",
    "notify_booking_change",
    "own_account",
    "phone_hash",
    "remove_twilio_account",
    "render",
    "resolve_flag",
    "segments",
    "send_due_reminders",
    "send_text",
    "set_limits",
    "set_twilio_account",
    "simulate_incoming",
    "simulation_available",
    "update_messaging_settings",
]
