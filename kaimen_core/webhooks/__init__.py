"""Webhooks: verify → store → apply, the one path every provider's events take.

- *verify* (``_verify``): the body read within its provider's size limit (413 once it
  passes, also for a chunked body), its content type, then the provider's
  :class:`Verifier` on the raw body: a :class:`VerifiedEvent`, or a :class:`Refusal`.
- *store* (``_store``): the raw event once under ``(provider, event_id, signer)``, as
  ``received``; concurrent requests share an insert and a commit (:class:`GroupCommit`,
  through the engine; a failed batch is stored event by event), and a duplicate is
  dropped by the database.
- *apply* (``_apply``): the worker takes received events (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL) and hands each batch to its provider's :class:`Applier` for that kind;
  a batch that fails is applied event by event, so a bad event fails alone.

:class:`WebhookReceiver` (``_receive``) is the sidecar's request path through the first
two; operators list and replay stored events (``_operators``). A provider is a
:class:`Provider` (``_provider``); this package never imports one.
``kaimen_core.webhook_providers`` lists them, and ``docs/webhooks.md`` shows how one
plugs in.
"""

from kaimen_core.webhooks._apply import apply_events, apply_received_events
from kaimen_core.webhooks._operators import (
    EVENT_STATUSES,
    REPLAY_REASONS,
    WebhookEventPage,
    WebhookEventRow,
    list_webhook_events,
    replay_webhook_events,
)
from kaimen_core.webhooks._provider import (
    MAX_BODY_BYTES,
    Applier,
    Outcome,
    Provider,
    Refusal,
    Reply,
    VerifiedEvent,
    Verifier,
    WebhookRequest,
    hide_every_field,
)
from kaimen_core.webhooks._receive import WebhookReceiver
from kaimen_core.webhooks._store import GroupCommit, store_events

__all__ = [
    "EVENT_STATUSES",
    "MAX_BODY_BYTES",
    "REPLAY_REASONS",
    "Applier",
    "GroupCommit",
    "Outcome",
    "Provider",
    "Refusal",
    "Reply",
    "VerifiedEvent",
    "Verifier",
    "WebhookEventPage",
    "WebhookEventRow",
    "WebhookReceiver",
    "WebhookRequest",
    "apply_events",
    "apply_received_events",
    "hide_every_field",
    "list_webhook_events",
    "replay_webhook_events",
    "store_events",
]
