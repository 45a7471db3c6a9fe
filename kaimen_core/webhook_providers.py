"""The providers whose webhooks Kaimen accepts, in one list the sidecar, the worker and the operators' page share.

kaimen_core.webhooks (verify → store → apply) never imports a provider, and each
provider's package imports kaimen_core.webhooks to declare itself (a
:class:`~kaimen_core.webhooks.Provider`: its paths, verifier and appliers). This module
sits above both, so there is no cycle. Adding a provider is adding its declaration to
:data:`PROVIDERS`; docs/webhooks.md shows how.
"""

from __future__ import annotations

from kaimen_core import messaging
from kaimen_core.webhooks import Provider

__all__ = ["PROVIDERS"]

PROVIDERS: tuple[Provider, ...] = (messaging.TWILIO_WEBHOOKS,)
