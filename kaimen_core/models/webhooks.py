"""Raw provider events, stored once under the provider's own id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, Text, UniqueConstraint, and_, or_, select, text
from sqlmodel import Field, SQLModel, col

from kaimen_core.models._types import BigId, JsonDoc, utcnow
from kaimen_core.models.tenancy import Business

__all__ = ["WebhookEvent", "business_signer", "unrouted_events_of"]


class WebhookEvent(SQLModel, table=True):
    """One delivery from Twilio or Stripe, kept for idempotency and replay; the worker's queue of events to apply.

    Stored once under ``(provider, event_id, signer)``: ``signer`` names whose secret
    verified it (``platform``, or the provider's word for a business's own account), so
    an event signed by one account never takes the place of the same id signed by another.
    ``status``: ``received`` (stored by the sidecar, not yet applied), ``applied``, or
    ``failed`` with ``error`` saying why (an operator may replay it).
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", "signer", name="uq_webhook_events_provider_event_signer"),
        Index("ix_webhook_events_received_at", "received_at"),
        Index("ix_webhook_events_business_id", "business_id"),
        Index("ix_webhook_events_received", "id", postgresql_where=text("status = 'received'"),
              sqlite_where=text("status = 'received'")),
        Index("ix_webhook_events_status_received_at", "status", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    provider: str = Field(max_length=16)
    event_id: str = Field(max_length=120)
    signer: str = Field(default="platform", max_length=40)
    business_id: int | None = Field(
        default=None, foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId
    )
    kind: str = Field(max_length=60)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JsonDoc)
    status: str = Field(default="received", max_length=16)
    error: str | None = Field(default=None, sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None


def business_signer(business_id: int) -> str:
    """The ``signer`` of an event verified with the secret of a business's own provider account."""
    return f"business:{business_id}"


def unrouted_events_of(business_id: int) -> ColumnElement[bool]:
    """The events no business owns (yet) that concern ``business_id``: a customer's text or a delivery status
    for its messaging number, not yet applied, or applied to no business (a status for a text Kaimen does not
    know), or refused.

    Its number is the ``To`` of a text it received and the ``From`` of a text it sent (Twilio's fields), and the
    event was signed by the platform's account or the business's own: one signed by another business's account
    is that business's (and refused when applied).
    """
    number = select(Business.messaging_number).where(Business.id == business_id).scalar_subquery()
    payload = col(WebhookEvent.payload)
    return and_(col(WebhookEvent.business_id).is_(None),
                col(WebhookEvent.signer).in_(("platform", business_signer(business_id))),
                or_(payload["To"].as_string() == number, payload["From"].as_string() == number))
