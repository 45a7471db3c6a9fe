"""What a provider plugs into the three stages: a verifier for the sidecar, an applier per event kind.

A :class:`Provider` is a declaration: its name (stored with each of its events), the
sidecar paths it calls, the content type and size its bodies may have, a factory for its
:class:`Verifier` (one per sidecar process, so it may keep state such as a map of
accounts), the :class:`Reply` a stored event gets, an :class:`Applier` per event kind,
and how operators see its payloads. A verifier turns a :class:`WebhookRequest` into a
:class:`VerifiedEvent` or a :class:`Refusal`; an applier takes stored events of its
kinds in one session and answers an :class:`Outcome` for each. This package never
imports a provider: ``kaimen_core.webhook_providers`` lists them, and the sidecar, the
worker and the operators' page hand that list to the stages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from kaimen_core.models import WebhookEvent

__all__ = ["MAX_BODY_BYTES", "Applier", "Outcome", "Provider", "Refusal", "Reply", "VerifiedEvent", "Verifier",
           "WebhookRequest", "hide_every_field"]

#: The largest body a provider's request may have unless it declares another limit.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A request as a verifier sees it: the body read whole (within the limit), header names in lower case."""

    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    """An event whose signature holds, ready to be stored once under ``(provider, event_id, signer)``.

    ``signer`` names whose secret verified it: ``platform``, or the provider's word for
    a business's own account. ``business_id`` is set only when the verifier already knows
    the business (a simulation); the applier decides it otherwise.
    """

    event_id: str
    kind: str
    payload: dict[str, Any]
    signer: str = "platform"
    business_id: int | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What the sidecar answers."""

    status: int
    body: str = ""
    media_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request not stored, and why. ``recorded``: a malformed request, counted in ``webhook.rejected`` system
    events (the path, reason, status and count; nothing from the body). Signature refusals are not recorded."""

    status: int
    reason: str
    recorded: bool = False

    def reply(self) -> Reply:
        return Reply(self.status, self.reason)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What applying one event came to: applied (``error`` None) or refused with a reason safe to show.

    ``business_id``: the business the event turned out to belong to (None: none, or unchanged).
    """

    business_id: int | None = None
    error: str | None = None


class Verifier(Protocol):
    """Checks a provider's requests in one sidecar process."""

    async def verify(self, request: WebhookRequest) -> VerifiedEvent | Refusal:
        """The event the request carries, or why it is refused (a bad signature, a malformed body...)."""

    async def aclose(self) -> None:
        """Release what the verifier holds when the sidecar stops."""


class Applier(Protocol):
    """Applies stored events of its kinds in ``session``, as a batch: one :class:`Outcome` per event id.

    The same function serves one event and a thousand. It may raise: the apply stage then
    applies the events one by one, so a bad event fails alone.
    """

    def __call__(self, session: Session, events: list[WebhookEvent], *, now: datetime) -> dict[int, Outcome]: ...


def hide_every_field(payload: dict[str, Any]) -> dict[str, Any]:
    """Operators' view of a payload whose fields are not known to be safe to show: names only."""
    return dict.fromkeys(payload, "[hidden]")


@dataclass(frozen=True)
class Provider:
    """One provider's part in the three stages (see the module docstring)."""

    name: str
    paths: tuple[str, ...]
    content_type: str
    verifier: Callable[..., Verifier]  # called with engine=; one per sidecar process
    appliers: Mapping[str, Applier]  # event kind -> applier
    accepted: Reply = Reply(200)
    max_body_bytes: int = MAX_BODY_BYTES
    shown: Callable[[dict[str, Any]], dict[str, Any]] = field(default=hide_every_field)

