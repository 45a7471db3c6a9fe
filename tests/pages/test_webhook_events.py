"""The Webhook events page: operators list stored events (masked) and replay them; no one else reaches it."""

from __future__ import annotations

import pytest

from kaimen_core import db, webhooks
from kaimen_core.models import AuditEvent, Business, WebhookEvent
from tests.factories import make_business, make_operator, make_staff, rows
from tests.fakes.messaging import apply_webhooks, store_twilio, texting_business
from tests.fakes.messaging import at as moment


def _store(sid, number, body="Can I book Friday?", minute=0):
    store_twilio(webhooks.VerifiedEvent(
        event_id=sid, kind="sms.inbound", received_at=moment(f"2026-11-27 17:{minute:02d}"),
        payload={"MessageSid": sid, "From": "+12125550123", "To": number, "Body": body, "NumMedia": "0",
                 "FromCity": "NEW YORK"}))


@pytest.fixture
def events_page(signed_in):
    """An operator's tab on the page, with one applied event of Harbour Salon and one for an unknown number."""
    tenant, number = texting_business("Harbour Salon")
    _store("SM" + "1" * 32, number, minute=1)
    _store("SM" + "2" * 32, "+15555559990", minute=2)
    apply_webhooks()
    operator, _ = make_operator()
    at = signed_in(operator.username).switch_page("pages/webhook_events.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Webhook events"]
    return at, tenant


def _table(at) -> list[dict]:
    assert not at.exception
    return at.dataframe[0].value.to_dict("records")


def test_operators_see_events_newest_first_with_personal_data_masked(events_page):
    at, tenant = events_page
    table = _table(at)
    assert [(r["Provider id"], r["Status"]) for r in table] == [("SM" + "2" * 32, "failed"),
                                                                ("SM" + "1" * 32, "applied")]
    assert table[0]["Error"] == "no business has the To number"
    assert table[1]["Business"] == f"Harbour Salon ({tenant.business_id})"
    payload = table[1]["Payload"]
    assert "2125550123" not in payload and "+1******0123" in payload
    assert "Can I book Friday?" not in payload and "[18 characters]" in payload
    assert "NEW YORK" not in payload and '"FromCity": "[hidden]"' in payload
    assert "Page 1 of 1 (2 events, 50 a page, newest first)." in [c.value for c in at.caption]


def test_filters_by_status_and_business(events_page):
    at, tenant = events_page
    at.selectbox(key="events_status").select("failed").run()
    assert [r["Status"] for r in _table(at)] == ["failed"]
    at.selectbox(key="events_status").select("all")
    at.text_input(key="events_business").input(str(tenant.business_id)).run()
    assert [r["Business"] for r in _table(at)] == [f"Harbour Salon ({tenant.business_id})"]


def test_replaying_a_failed_event_after_its_number_is_assigned_applies_it(events_page, press):
    at, _ = events_page
    [failed] = rows(WebhookEvent, WebhookEvent.status == "failed")

    with db.system_session() as session:
        other = session.get(Business, make_business("Fern Street Barbers").business_id)
        other.messaging_number = "+15555559990"
        session.add(other)
    at.multiselect(key="replay_events").select(failed.id)
    at.selectbox(key="replay_reason").select("number_assigned")
    press(at, "Replay")
    assert not at.exception
    assert at.success[0].value == "1 event queued to be applied again."
    assert rows(WebhookEvent, WebhookEvent.id == failed.id)[0].status == "received"
    (audited,) = rows(AuditEvent, AuditEvent.action == "webhook.replayed")
    assert audited.target_id == str(failed.id)
    assert audited.detail == {"provider": "twilio", "kind": "sms.inbound", "previous_status": "failed",
                              "reason": "number_assigned"}
    apply_webhooks()
    assert rows(WebhookEvent, WebhookEvent.id == failed.id)[0].status == "applied"


def test_replay_needs_a_chosen_event(events_page, press):
    at, _ = events_page
    press(at, "Replay")
    assert at.error[0].value == "Choose at least one event."


@pytest.mark.parametrize("role", ["owner", "staff"])
def test_owners_and_staff_cannot_reach_the_page(signed_in, role):
    tenant = make_business("Harbour Salon")
    username = tenant.username if role == "owner" else make_staff(tenant)[0].username
    at = signed_in(username)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/webhook_events.py")
