"""Messaging: the ONE path by which any text leaves Kaimen, and everything that comes back.

- :func:`send_text` (a person in the inbox) and :func:`notify_booking_change`
  (confirmations) decide through the one send path (``_send``): refuse, hold or queue,
  always recorded on the message with the reason; every accepted text is a message row
  plus a ``send_message`` job the worker delivers (:func:`deliver`, ``_delivery``).
- :class:`TwilioWebhooks` is the sidecar's request path (``_ingest``): checks and
  signature (``_checks``), then the raw event stored once with group commit, answered
  fast. :func:`apply_pending_webhooks` (the worker, ``_events``) applies stored events:
  inbound texts with STOP/START/HELP keywords and plain-words stop requests, delivery
  status that never moves backwards. Operators list stored events (payloads masked) and
  replay them (``_replay``).
- A business's own Twilio account (``_accounts``): SID and auth token, the token sealed
  at rest; webhooks for its number must be signed with it, and its texts go through it.
- The inbox (``_inbox``), owner and operator settings (``_settings``), reminders
  (``_reminders``), and the pure text rules (``_text``, ``_window``).
"""

from kaimen_core.messaging._accounts import (
    TwilioAccountView,
    get_twilio_account,
    own_account,
    remove_twilio_account,
    set_twilio_account,
)
from kaimen_core.messaging._checks import EMPTY_TWIML, MAX_BODY_BYTES, TwilioEvent, WebhookReply, check_twilio
from kaimen_core.messaging._delivery import STATUS_RANK, RetryLater, deliver
from kaimen_core.messaging._events import apply_pending_webhooks
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
from kaimen_core.messaging._ingest import AccountMap, EventWriter, TwilioWebhooks, store_events
from kaimen_core.messaging._reminders import CHANGES, notify_booking_change, send_due_reminders
from kaimen_core.messaging._replay import (
    EVENT_STATUSES,
    PROVIDERS,
    REPLAY_REASONS,
    WebhookEventPage,
    WebhookEventRow,
    list_webhook_events,
    replay_webhook_events,
)
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
from kaimen_core.messaging._text import Segments, asks_to_stop, classify_keyword, phone_hash, segments

__all__ = [
    "AUTOMATED_KINDS",
    "CHANGES",
    "DEFAULT_TEMPLATES",
    "EMPTY_TWIML",
    "EVENT_STATUSES",
    "FILTERS",
    "MAX_BODY_BYTES",
    "PLACEHOLDERS",
    "PROVIDERS",
    "REPLAY_REASONS",
    "STATUS_RANK",
    "AccountMap",
    "ConversationRow",
    "Decision",
    "EventWriter",
    "MessageView",
    "RetryLater",
    "Segments",
    "SettingsView",
    "Thread",
    "TwilioAccountView",
    "TwilioEvent",
    "TwilioWebhooks",
    "WebhookEventPage",
    "WebhookEventRow",
    "WebhookReply",
    "add_screening_term",
    "apply_pending_webhooks",
    "asks_to_stop",
    "check_twilio",
    "classify_keyword",
    "deliver",
    "get_messaging_settings",
    "get_thread",
    "get_twilio_account",
    "list_conversations",
    "list_screening_terms",
    "list_webhook_events",
    "mark_read",
    "notify_booking_change",
    "own_account",
    "phone_hash",
    "remove_twilio_account",
    "render",
    "replay_webhook_events",
    "resolve_flag",
    "segments",
    "send_due_reminders",
    "send_text",
    "set_limits",
    "set_twilio_account",
    "simulate_incoming",
    "simulation_available",
    "store_events",
    "update_messaging_settings",
]
