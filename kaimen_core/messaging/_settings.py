"""Owner settings (templates, reminders) and operator settings (limits, screening terms)."""

from __future__ import annotations

import string
from dataclasses import dataclass

from sqlmodel import Session, col, select

from kaimen_core import audit
from kaimen_core.actors import Actor
from kaimen_core.exceptions import Conflict, NotFound, ValidationError
from kaimen_core.messaging import _send
from kaimen_core.models import Business, ScreeningTerm, utcnow
from kaimen_core.validators import clean_text

__all__ = [
    "DEFAULT_TEMPLATES",
    "PLACEHOLDERS",
    "SettingsView",
    "add_screening_term",
    "get_messaging_settings",
    "list_screening_terms",
    "render",
    "set_limits",
    "update_messaging_settings",
]

PLACEHOLDERS = ("name", "service", "staff", "time", "business")
DEFAULT_TEMPLATES = {
    "created": "Hi {name}, you're booked for {service} with {staff} on {time}. - {business}",
    "moved": "Hi {name}, your {service} with {staff} has moved to {time}. - {business}",
    "cancelled": "Hi {name}, your {service} on {time} is cancelled. - {business}",
    "reminder": "Reminder: {service} with {staff} on {time}. - {business}",
    "thanks": "Thanks {name}! See you soon. - {business}",
    "running_late": "Hi {name}, we're running about 10 minutes late today. Sorry! - {business}",
}


@dataclass(frozen=True, slots=True)
class SettingsView:
    """A business's messaging settings as pages show them."""

    rate_per_minute: int
    daily_cap: int
    reminder_24h: bool
    reminder_2h: bool
    templates: dict[str, str]


def _check_template(name: str, text: str) -> str:
    text = clean_text(text, field=name, label=f"The {name} template", multiline=True)
    if not text:
        raise ValidationError(f"The {name} template is empty.", field=name)
    if len(text) > 480:
        raise ValidationError(f"The {name} template is longer than 480 characters.", field=name)
    try:
        fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError:
        raise ValidationError(f"The {name} template has an unmatched brace.", field=name) from None
    unknown = sorted(fields - set(PLACEHOLDERS))
    if unknown:
        raise ValidationError(f"Unknown placeholder {{{unknown[0]}}} in the {name} template; use "
                              + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ".", field=name)
    return text


def render(template: str, values: dict[str, str]) -> str:
    """Fill a (checked) template's placeholders."""
    return template.format_map({p: values.get(p, "") for p in PLACEHOLDERS})


def get_templates(session: Session, business_id: int) -> dict[str, str]:
    """The business's templates, defaults filling any it has not edited."""
    return {**DEFAULT_TEMPLATES, **(_send.settings_for(session, business_id).templates or {})}


def _view(session: Session, business_id: int) -> SettingsView:
    row = _send.settings_for(session, business_id)
    return SettingsView(row.rate_per_minute, row.daily_cap, row.reminder_24h, row.reminder_2h,
                        {**DEFAULT_TEMPLATES, **(row.templates or {})})


def get_messaging_settings(session: Session, *, actor: Actor) -> SettingsView:
    """The actor's business's messaging settings."""
    actor.require("owner", "staff")
    return _view(session, actor.business_id)


def update_messaging_settings(session: Session, *, actor: Actor, reminder_24h: bool, reminder_2h: bool,
                              templates: dict[str, str]) -> SettingsView:
    """Owners choose reminders and edit templates (placeholders are checked)."""
    actor.require("owner")
    row = _send.settings_for(session, actor.business_id)
    row.templates = {name: _check_template(name, templates.get(name, DEFAULT_TEMPLATES[name]))
                     for name in DEFAULT_TEMPLATES}
    row.reminder_24h, row.reminder_2h, row.updated_at = bool(reminder_24h), bool(reminder_2h), utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="messaging.settings_updated", target_type="business",
                 target_id=actor.business_id)
    return _view(session, actor.business_id)


def set_limits(session: Session, *, actor: Actor, business_id: int, rate_per_minute: int,
               daily_cap: int) -> SettingsView:
    """Operators set a business's per-minute rate limit and rolling-24-hour cap."""
    audit.record_operator_access(session, actor=actor, purpose="messaging_limits", business_id=business_id)
    if session.get(Business, business_id) is None:
        raise NotFound("No such business.")
    if not (1 <= rate_per_minute <= 10_000) or not (1 <= daily_cap <= 1_000_000):
        raise ValidationError("Limits must be positive (rate at most 10,000 a minute).", field="rate_per_minute")
    row = _send.settings_for(session, business_id)
    row.rate_per_minute, row.daily_cap, row.updated_at = rate_per_minute, daily_cap, utcnow()
    session.add(row)
    audit.record(session, actor=actor, action="messaging.limits_set", business_id=business_id,
                 target_type="business", target_id=business_id,
                 detail={"rate_per_minute": rate_per_minute, "daily_cap": daily_cap})
    return _view(session, business_id)


def list_screening_terms(session: Session, *, actor: Actor) -> list[tuple[str, str]]:
    """Operators: the prohibited terms they added (built-in terms are always on)."""
    audit.record_operator_access(session, actor=actor, purpose="screening_terms")
    return [(t.term, t.reason) for t in session.exec(select(ScreeningTerm).order_by(col(ScreeningTerm.term)))]


def add_screening_term(session: Session, *, actor: Actor, term: str, reason: str) -> None:
    """Operators add a prohibited term for every business, with the reason senders are shown."""
    audit.record_operator_access(session, actor=actor, purpose="screening_terms")
    term = " ".join(clean_text(term, field="term", label="The term").lower().split())
    reason = " ".join(clean_text(reason, field="reason", label="The reason").split())
    if not (2 <= len(term) <= 100) or not (3 <= len(reason) <= 120):
        raise ValidationError("Give a term (2–100 characters) and a reason (3–120).", field="term")
    if session.exec(select(ScreeningTerm.id).where(ScreeningTerm.term == term)).first():
        raise Conflict(f'"{term}" is already screened.')
    session.add(ScreeningTerm(term=term, reason=reason, created_by_user_id=actor.user_id))
    session.flush()
    audit.record(session, actor=actor, action="messaging.screening_term_added", business_id=None,
                 target_type="screening_term")
