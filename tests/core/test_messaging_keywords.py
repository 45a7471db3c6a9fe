"""Keywords and consent: STOP/START/HELP in every variant, plain-words stop requests, the suppression list."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from kaimen_core import db, messaging, webhooks
from kaimen_core.messaging._text import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from kaimen_core.models import ConsentEvent, Conversation, Customer, Message, SuppressionEntry
from tests.factories import count, rows
from tests.fakes.messaging import apply_webhooks, at, customer, store_twilio, texting_business

EDGES = st.text(alphabet=" \t\n.!?,;:-'\"()*~…¡¿", max_size=4)


def any_case(word: str):
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda flips: "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True)))


@given(st.sampled_from(sorted(OPT_OUT_KEYWORDS)).flatmap(any_case), EDGES, EDGES)
def test_every_opt_out_keyword_in_any_case_with_surrounding_punctuation(word, before, after):
    assert messaging.classify_keyword(before + word + after) == "opt_out"


@given(st.sampled_from(sorted(OPT_IN_KEYWORDS | HELP_KEYWORDS)).flatmap(any_case), EDGES, EDGES)
def test_every_opt_in_and_help_keyword(word, before, after):
    expected = "help" if word.upper() in HELP_KEYWORDS else "opt_in"
    assert messaging.classify_keyword(before + word + after) == expected


@given(st.sampled_from(sorted(OPT_OUT_KEYWORDS)), st.text(alphabet=string.ascii_letters, min_size=1, max_size=8))
def test_a_keyword_inside_a_longer_message_is_not_a_keyword(word, other):
    assert messaging.classify_keyword(f"{word} {other}") is None
    assert messaging.classify_keyword(f"{other} {word}") is None


def test_plain_words_stop_requests():
    for text in ("Stop texting me", "please remove me from your list", "Don't text me again",
                 "no more messages please", "I want to opt out", "can you stop sending me these"):
        assert messaging.asks_to_stop(text), text
    for text in ("Can I stop by at 3?", "STOP", "Is the bus stop near you?", "Text me when you're ready"):
        assert not messaging.asks_to_stop(text), text


NOON = at("2026-11-27 17:00")


def receive(number, body, sid, now=NOON, phone="+12125550123"):
    """A text as the sidecar stores it, then the worker's apply step."""
    params = {"MessageSid": sid, "From": phone, "To": number, "Body": body}
    store_twilio(webhooks.VerifiedEvent(event_id=sid, kind="sms.inbound", payload=params, received_at=now))
    assert apply_webhooks() == 1


def outbound(business_id):
    """The business's outbound texts in the order they were written (a table scan has no order)."""
    return sorted(rows(Message, Message.direction == "outbound", Message.business_id == business_id),
                  key=lambda m: m.id)


def test_stop_then_start_then_help_records_consent_and_replies_once_each(database):
    tenant, number = texting_business("Lumen Salon")
    receive(number, "Stop.", "SM1")
    (person,) = rows(Customer, Customer.business_id == tenant.business_id)
    assert person.opted_out_at is not None
    assert count(SuppressionEntry, SuppressionEntry.business_id == tenant.business_id) == 1
    receive(number, "unsubscribe", "SM2")  # already out: no second confirmation, no second event
    replies = outbound(tenant.business_id)
    assert [m.body for m in replies] == [
        "Lumen Salon: you are unsubscribed and will get no more texts. Reply START to resubscribe."]
    inbound_id = rows(Message, Message.provider_sid == "SM1")[0].id
    (event,) = rows(ConsentEvent, ConsentEvent.customer_id == person.id)
    assert (event.kind, event.granted, event.method, event.wording, event.message_id) == (
        "opt_out", False, "keyword", "Stop.", inbound_id)
    # Nothing else may go to them, not even a person's reply.
    with db.tenant_session(tenant.owner) as session:
        refused = messaging.send_text(session, actor=tenant.owner, customer_id=person.id, body="Are you sure?")
        thread = messaging.get_thread(session, actor=tenant.owner, customer_id=person.id)
    assert refused.status == "refused" and not thread.can_text
    assert thread.cannot_text_reason == "the customer opted out (STOP)"
    receive(number, "START", "SM3")
    assert rows(Customer, Customer.id == person.id)[0].opted_out_at is None
    assert count(SuppressionEntry, SuppressionEntry.business_id == tenant.business_id) == 0
    receive(number, "help", "SM4")
    bodies = [m.body for m in outbound(tenant.business_id)]
    assert "you are resubscribed" in bodies[-2]
    assert bodies[-1].startswith("Lumen Salon: for help call +12125550100. Reply STOP to opt out.")
    kinds = [e.kind for e in rows(ConsentEvent, ConsentEvent.customer_id == person.id)]
    assert sorted(kinds) == ["opt_in", "opt_out"]


def test_start_without_a_prior_opt_out_changes_nothing(database):
    tenant, number = texting_business()
    receive(number, "YES", "SM5")
    assert count(ConsentEvent) == 0 and outbound(tenant.business_id) == []


def test_a_plain_words_stop_request_pauses_automated_texts_and_flags_the_conversation(database):
    tenant, number = texting_business()
    receive(number, "please stop texting me", "SM6")
    (person,) = rows(Customer, Customer.business_id == tenant.business_id)
    (conversation,) = rows(Conversation, Conversation.customer_id == person.id)
    assert conversation.needs_person and conversation.automated_paused_at is not None
    assert person.opted_out_at is None
    with db.tenant_session(tenant.owner) as session:
        listed = messaging.list_conversations(session, actor=tenant.owner, show="needs_person")
        automated = messaging.send_text(session, actor=tenant.owner, customer_id=person.id, body="Reminder",
                                        kind="transactional", now=at("2026-11-27 17:00"))
        person_reply = messaging.send_text(session, actor=tenant.owner, customer_id=person.id,
                                           body="Sorry! We'll stop.", now=at("2026-11-27 17:00"))
    assert [c.customer_id for c in listed] == [person.id]
    assert automated.status == "refused" and "paused" in automated.decision
    assert person_reply.status == "queued"
    assert rows(ConsentEvent)[0].method == "plain_words"
    with db.tenant_session(tenant.owner) as session:
        messaging.resolve_flag(session, actor=tenant.owner, customer_id=person.id)
        assert messaging.list_conversations(session, actor=tenant.owner, show="needs_person") == []


def test_an_opt_out_covers_the_business_and_not_another(database):
    _, number_a = texting_business()
    b, _ = texting_business()
    receive(number_a, "STOP", "SM7")
    cid_b = customer(b)
    with db.tenant_session(b.owner) as session:
        sent = messaging.send_text(session, actor=b.owner, customer_id=cid_b, body="Hello")
    assert sent.status == "queued"
    with db.system_session() as session:
        hashes = session.exec(select(SuppressionEntry.phone_hash)).all()
    assert len(hashes) == 1 and "2125550123" not in hashes[0]
