"""The Inbox page (and the owner's Messaging settings page): simulate, read, answer, refuse."""

from __future__ import annotations

import pytest

from kaimen_core.models import Customer, Message
from tests.factories import make_staff, rows
from tests.fakes.messaging import customer, texting_business


@pytest.fixture
def inbox(signed_in):
    def open_page(username):
        at = signed_in(username).switch_page("pages/inbox.py").run()
        assert not at.exception, at.exception
        assert [t.value for t in at.title] == ["Inbox"]
        return at

    return open_page


def _simulate(at, phone, text):
    at.text_input(key="simulate_phone").input(phone)
    at.text_input(key="simulate_body").input(text)
    next(b for b in at.button if b.label == "Receive text").click()
    return at.run()


def test_an_owner_simulates_a_text_opens_it_and_replies(inbox):
    tenant, _ = texting_business("Harbour Salon")
    at = inbox(tenant.username)
    at = _simulate(at, "+1 212 555 0123", "Hi! Can I book Friday?")
    assert not at.exception
    assert "A text arrived." in [s.value for s in at.success]
    conversation = next(b for b in at.button if b.label.startswith("+12125550123"))
    assert "1 unread" in conversation.label
    at = conversation.click().run()
    assert [s.value.replace("\\", "") for s in at.subheader] == ["+12125550123"]  # shown escaped: typed text
    assert any("Hi! Can I book Friday?" in m.value for m in at.markdown)  # "!" before no "[" is no Markdown
    at.text_area(key="compose_body").input("Yes, 3pm works!")
    at = at.run()
    assert any("15 characters · GSM-7 · 1 segment" in c.value for c in at.caption)
    at = at.button(key="compose_send").click().run()
    assert not at.exception
    assert "Sent." in [s.value for s in at.success]
    (reply,) = rows(Message, Message.direction == "outbound")
    assert (reply.body, reply.status, reply.sent_by_user_id) == ("Yes, 3pm works!", "queued", tenant.owner.user_id)
    at = at.button(key="mark_read").click().run()
    assert "Marked as read." in [s.value for s in at.success]
    assert "unread" not in next(b for b in at.button if b.label.startswith("+12125550123")).label


def test_compose_is_disabled_with_the_reason_for_an_opted_out_customer(inbox):
    tenant, _ = texting_business()
    staff, _ = make_staff(tenant)
    customer(tenant, name="Dana Reyes")
    at = inbox(staff.username)
    at = _simulate(at, "+12125550123", "STOP")
    at = next(b for b in at.button if b.label.startswith("Dana Reyes")).click().run()
    assert "opted out" in next(b for b in at.button if b.label.startswith("Dana Reyes")).label
    assert [e.value for e in at.error] == ["You cannot text this customer: the customer opted out (STOP)."]
    assert at.button(key="compose_send").disabled and at.text_area(key="compose_body").disabled
    assert rows(Customer)[0].opted_out_at is not None


def test_a_template_fills_the_message_and_ucs2_counts_its_segments(inbox):
    tenant, _ = texting_business("Harbour Salon")
    customer(tenant, name="Dana Reyes")
    at = inbox(tenant.username)
    at = _simulate(at, "+12125550123", "hello")
    at = next(b for b in at.button if b.label.startswith("Dana Reyes")).click().run()
    at = at.selectbox(key="compose_template").select("thanks").run()
    assert at.text_area(key="compose_body").value == "Thanks Dana! See you soon. - Harbour Salon"
    at.text_area(key="compose_body").input("Thanks 😀 " + "x" * 70)
    at = at.run()
    assert any("UCS-2 · 2 segments" in c.value for c in at.caption)


def test_the_search_and_filters_narrow_the_list(inbox):
    tenant, _ = texting_business()
    at = inbox(tenant.username)
    at = _simulate(at, "+12125550123", "Do you do beards?")
    at = _simulate(at, "+12125550124", "please remove me from your list")
    labels = [b.label for b in at.button if b.label.startswith("+1212")]
    assert labels[0].startswith("+12125550124") and len(labels) == 2  # newest first
    at.text_input(key="inbox_search").input("beards")
    at = at.run()
    assert [b.label for b in at.button if b.label.startswith("+1212")] == ["+12125550123 · 1 unread"]
    at.text_input(key="inbox_search").input("")
    at = at.segmented_control(key="inbox_filter").set_value("Needs a person").run()
    assert [b.label for b in at.button if b.label.startswith("+1212")] == [
        "+12125550124 · 1 unread · needs a person"]


def test_an_owner_edits_reminders_and_templates(signed_in):
    tenant, _ = texting_business()
    at = signed_in(tenant.username).switch_page("pages/messaging_settings.py").run()
    assert not at.exception
    at.checkbox(key="reminder_2h").check()
    at.text_area(key="template_reminder").input("See you {time}, {name}!")
    at = next(b for b in at.button if b.label == "Save").click().run()
    assert "Messaging settings saved." in [s.value for s in at.success]
    assert at.text_area(key="template_reminder").value == "See you {time}, {name}!"
    at.text_area(key="template_reminder").input("Bring {price}")
    at = next(b for b in at.button if b.label == "Save").click().run()
    assert any("Unknown placeholder {price}" in e.value for e in at.error)
