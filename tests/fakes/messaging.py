"""Test helpers for messaging: a business with a messaging number, customers, signed Twilio requests,
events stored as the sidecar stores them and applied as the worker applies them."""

from __future__ import annotations

import itertools
from datetime import datetime
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from kaimen_core import db, webhooks
from kaimen_core.models import Business, Customer, Message
from kaimen_core.webhook_providers import PROVIDERS
from tests.factories import Tenant, make_business

__all__ = ["PUBLIC_URL", "TOKEN", "apply_webhooks", "at", "customer", "sent_text", "signed", "store_twilio",
           "texting_business"]

PUBLIC_URL = "https://kaimen.example.com"
TOKEN = "test-twilio-auth-token"
_numbers = itertools.count(100)


def texting_business(name: str | None = None, *, time_zone: str = "America/New_York",
                     number: str | None = None) -> tuple[Tenant, str]:
    """A business with a messaging number; returns it and the number."""
    tenant = make_business(name, time_zone=time_zone)
    number = number or f"+1555555{next(_numbers):04d}"
    with db.system_session() as session:
        business = session.get(Business, tenant.business_id)
        business.messaging_number = number
        session.add(business)
    return tenant, number


def customer(tenant: Tenant, phone: str = "+12125550123", **fields) -> int:
    """A customer of ``tenant`` (written directly: the customers package is another piece)."""
    with db.system_session() as session:
        row = Customer(business_id=tenant.business_id, name=fields.pop("name", "Dana Reyes"), phone_e164=phone,
                       **fields)
        session.add(row)
        session.flush()
        return row.id


def sent_text(tenant: Tenant, sid: str | None, phone: str = "+12125550140") -> int:
    """An outbound text the worker has sent (provider sid ``sid``, or None if it never heard back); its id."""
    cid = customer(tenant, phone)
    with db.system_session() as session:
        message = Message(business_id=tenant.business_id, customer_id=cid, direction="outbound", body="Hello",
                          status="sent", provider_sid=sid)
        session.add(message)
        session.flush()
        return message.id


def signed(path: str, params: dict[str, str], *, url: str | None = None, token: str = TOKEN,
           query: str = "") -> tuple[str, dict[str, str]]:
    """(body, headers) for a Twilio request to ``path`` signed as Twilio would sign it."""
    full = (url or PUBLIC_URL + path) + (f"?{query}" if query else "")
    signature = RequestValidator(token).compute_signature(full, params)
    return urlencode(params), {"X-Twilio-Signature": signature,
                               "Content-Type": "application/x-www-form-urlencoded"}


def at(text: str) -> datetime:
    """An aware UTC datetime from ``YYYY-MM-DD HH:MM``."""
    from datetime import UTC

    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def store_twilio(*events: webhooks.VerifiedEvent) -> None:
    """Twilio events stored as the sidecar stores them (received, not applied)."""
    with db.system_session() as session:
        webhooks.store_events(session, "twilio", events)


def apply_webhooks(**kwargs) -> int:
    """The worker's apply step, once, with every provider: how many received events it took."""
    return webhooks.apply_received_events(PROVIDERS, **kwargs)
