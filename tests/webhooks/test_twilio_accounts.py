"""Webhooks for businesses with their own Twilio account: only that account's token verifies their number.

The rule (kaimen_core.messaging._twilio_verifier): the request's number (``To`` for a text,
``From`` for a status callback) picks the one account whose token may sign it. A
business's token never verifies a request for another business's number, the platform
token is refused for a number with its own account, and the worker refuses an event
signed by one business for another business's number or text, which never takes the
place of the genuine event with the same id.
"""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from kaimen_core import config, db, messaging, webhooks
from kaimen_core.models import AuditEvent, Message, WebhookEvent
from tests.factories import count, rows
from tests.fakes.messaging import (
    PUBLIC_URL,
    TOKEN,
    apply_webhooks,
    sent_text,
    signed,
    store_twilio,
    texting_business,
)
from webhooks.app import create_app

PLATFORM_SID = "AC" + "0" * 32
A_SID, A_TOKEN = "AC" + "a1" * 16, "a0" * 16
B_SID, B_TOKEN = "AC" + "b1" * 16, "b0" * 16


@pytest.fixture
def client(database, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", PLATFORM_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("KAIMEN_PUBLIC_URL", PUBLIC_URL)
    config.reset_settings()
    with TestClient(create_app(), base_url="http://127.0.0.1:8502") as test_client:
        test_client.app.state.webhooks.verifiers["twilio"].accounts.min_interval = 0  # accounts change in tests
        yield test_client
    monkeypatch.undo()
    config.reset_settings()


def connect(tenant, sid, token):
    with db.tenant_session(tenant.owner) as session:
        messaging.set_twilio_account(session, actor=tenant.owner, account_sid=sid, auth_token=token)


def text(number, account_sid, sid="SM" + "c" * 32, **extra):
    return {"MessageSid": sid, "AccountSid": account_sid, "From": "+12125550123", "To": number,
            "Body": "Hi, can I book Friday?", "NumMedia": "0", **extra}


def post(client, path, params, token, query=""):
    body, headers = signed(path, params, token=token, query=query)
    return client.post(path + (f"?{query}" if query else ""), content=body, headers=headers)


def apply():
    while apply_webhooks():
        pass


@pytest.fixture
def a_and_b(database):
    """Business A with its own account, business B with its own account, C on the platform's."""
    a, a_number = texting_business()
    b, b_number = texting_business()
    c, c_number = texting_business()
    connect(a, A_SID, A_TOKEN)
    connect(b, B_SID, B_TOKEN)
    return (a, a_number), (b, b_number), (c, c_number)


def test_a_text_signed_with_the_business_token_is_accepted_and_applied(client, a_and_b):
    (a, a_number), _, _ = a_and_b
    response = post(client, "/twilio/sms", text(a_number, A_SID), A_TOKEN)
    assert response.status_code == 200
    (event,) = rows(WebhookEvent)
    assert event.signer == f"business:{a.business_id}"
    apply()
    (message,) = rows(Message)
    assert (message.business_id, message.direction) == (a.business_id, "inbound")


def test_the_platform_token_is_refused_for_a_number_with_its_own_account(client, a_and_b):
    (_, a_number), _, (_, c_number) = a_and_b
    for account_sid in (PLATFORM_SID, A_SID):
        assert post(client, "/twilio/sms", text(a_number, account_sid), TOKEN).status_code == 403
    assert count(WebhookEvent) == 0
    # ...while a business on the platform's account is still verified with it
    assert post(client, "/twilio/sms", text(c_number, PLATFORM_SID), TOKEN).status_code == 200


@pytest.mark.parametrize("b_has_own_account", [True, False])
def test_business_a_token_is_refused_for_business_b_number(client, a_and_b, b_has_own_account):
    _, (_, b_number), (_, c_number) = a_and_b
    number = b_number if b_has_own_account else c_number
    for account_sid in (A_SID, B_SID, PLATFORM_SID):
        assert post(client, "/twilio/sms", text(number, account_sid), A_TOKEN).status_code == 403
    assert count(WebhookEvent) == 0


def test_a_business_token_with_another_account_sid_is_refused(client, a_and_b):
    (_, a_number), _, _ = a_and_b
    assert post(client, "/twilio/sms", text(a_number, B_SID), A_TOKEN).status_code == 403
    assert post(client, "/twilio/sms", {k: v for k, v in text(a_number, A_SID).items() if k != "AccountSid"},
                A_TOKEN).status_code == 403
    assert count(WebhookEvent) == 0


def test_a_business_cannot_pass_itself_off_as_the_platform_with_a_parameter(client, a_and_b):
    (a, a_number), _, _ = a_and_b
    assert post(client, "/twilio/sms", text(a_number, A_SID, _signer="platform", _query="m=1"),
                A_TOKEN).status_code == 200
    (event,) = rows(WebhookEvent)
    assert event.signer == f"business:{a.business_id}"
    assert "_signer" not in event.payload and "_query" not in event.payload


def test_an_account_connected_or_removed_after_the_map_was_read_takes_effect_at_once(client, database):
    tenant, number = texting_business()
    assert post(client, "/twilio/sms", text(number, PLATFORM_SID, sid="SM" + "1" * 32), TOKEN).status_code == 200
    connect(tenant, A_SID, A_TOKEN)  # the sidecar's map still says "platform" for this number
    assert post(client, "/twilio/sms", text(number, A_SID, sid="SM" + "2" * 32), A_TOKEN).status_code == 200
    assert post(client, "/twilio/sms", text(number, PLATFORM_SID, sid="SM" + "3" * 32), TOKEN).status_code == 403
    with db.tenant_session(tenant.owner) as session:
        messaging.remove_twilio_account(session, actor=tenant.owner)
    assert post(client, "/twilio/sms", text(number, PLATFORM_SID, sid="SM" + "4" * 32), TOKEN).status_code == 200
    assert post(client, "/twilio/sms", text(number, A_SID, sid="SM" + "5" * 32), A_TOKEN).status_code == 403
    assert sorted(e.event_id[2:3] for e in rows(WebhookEvent)) == ["1", "2", "4"]


def test_status_callbacks_verify_with_the_sending_business_account(client, a_and_b):
    (a, a_number), _, _ = a_and_b
    message_id = sent_text(a, "SM" + "d" * 32)
    callback = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered", "AccountSid": A_SID,
                "From": a_number, "To": "+12125550140"}
    assert post(client, "/twilio/status", {**callback, "AccountSid": PLATFORM_SID}, TOKEN).status_code == 403
    assert post(client, "/twilio/status", {**callback, "AccountSid": B_SID}, B_TOKEN).status_code == 403
    assert post(client, "/twilio/status", callback, A_TOKEN, query=f"m={message_id}").status_code == 200
    apply()
    assert rows(Message, Message.id == message_id)[0].status == "delivered"


@pytest.mark.parametrize("status", ["delivered", "undelivered"])
def test_a_callback_signed_by_b_for_a_text_of_a_is_refused_by_the_worker(client, a_and_b, status):
    (a, _), (_, b_number), _ = a_and_b
    message_id = sent_text(a, "SM" + "e" * 32)
    unlinked = sent_text(a, None, phone="+12125550141")
    forged = {"MessageSid": "SM" + "e" * 32, "MessageStatus": status, "ErrorCode": "21610", "AccountSid": B_SID,
              "From": b_number, "To": "+12125550140"}
    assert post(client, "/twilio/status", forged, B_TOKEN).status_code == 200  # B's number, B's token
    linking = {**forged, "MessageSid": "SM" + "f" * 32}  # and one trying to claim A's unlinked text by its id
    assert post(client, "/twilio/status", linking, B_TOKEN, query=f"m={unlinked}").status_code == 200
    apply()
    assert {e.status for e in rows(WebhookEvent)} == {"failed"}
    assert {e.error for e in rows(WebhookEvent)} == {"signed with another business's Twilio account"}
    assert rows(Message, Message.id == message_id)[0].status == "sent"
    assert rows(Message, Message.id == unlinked)[0].provider_sid is None
    assert count(AuditEvent, AuditEvent.action == "webhook.wrong_account") == 2


def test_a_callback_signed_by_b_first_never_takes_the_place_of_twilio_s_own(client, a_and_b):
    """Stored under (provider, id) alone, B's forgery would have made Twilio's genuine callback a duplicate."""
    (a, a_number), (_, b_number), _ = a_and_b
    message_id = sent_text(a, "SM" + "e" * 32)
    forged = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "delivered", "AccountSid": B_SID, "From": b_number,
              "To": "+12125550140"}
    assert post(client, "/twilio/status", forged, B_TOKEN).status_code == 200
    genuine = {**forged, "AccountSid": A_SID, "From": a_number}
    assert post(client, "/twilio/status", genuine, A_TOKEN, query=f"m={message_id}").status_code == 200
    assert post(client, "/twilio/status", genuine, A_TOKEN, query=f"m={message_id}").status_code == 200  # again
    apply()
    assert sorted((e.signer == f"business:{a.business_id}", e.status) for e in rows(WebhookEvent)) == [
        (False, "failed"), (True, "applied")]  # B's refused, A's (Twilio's own) applied, stored once
    assert rows(Message, Message.id == message_id)[0].status == "delivered"


def test_an_event_signed_by_a_for_b_number_is_refused_by_the_worker(database, a_and_b):
    """What a sidecar with a stale map could store: the worker still never applies it to B."""
    (a, _), (_, b_number), (_, c_number) = a_and_b
    store_twilio(*(
        webhooks.VerifiedEvent(event_id=f"SM{n}" + "9" * 31, kind="sms.inbound", signer=f"business:{a.business_id}",
                               payload={**text(number, A_SID, sid=f"SM{n}" + "9" * 31), "Body": body})
        for n, number, body in ((1, b_number, "Hello"), (2, c_number, "STOP"))))
    apply()
    assert {e.status for e in rows(WebhookEvent)} == {"failed"}
    assert count(Message) == 0


def test_the_account_map_is_read_once_not_per_request(client, a_and_b, monkeypatch):
    """The request path does no database work before its insert: the map is read once and kept."""
    from kaimen_core.messaging import _accounts

    reads = []
    real = _accounts._load_accounts
    monkeypatch.setattr(_accounts, "_load_accounts", lambda engine: reads.append(1) or real(engine))
    (_, a_number), _, (_, c_number) = a_and_b
    client.app.state.webhooks.verifiers["twilio"].accounts.min_interval = 1.0
    for n in range(5):
        assert post(client, "/twilio/sms", text(a_number, A_SID, sid=f"SM{n}" + "7" * 31), A_TOKEN).status_code == 200
        assert post(client, "/twilio/sms", text(c_number, PLATFORM_SID, sid=f"SM{n}" + "8" * 31),
                    TOKEN).status_code == 200
    assert len(reads) == 1
    for _ in range(5):  # refused signatures re-read the map at most once a second
        assert post(client, "/twilio/sms", text(a_number, A_SID), B_TOKEN).status_code == 403
    assert len(reads) <= 2


def test_a_rival_business_signing_hostile_texts_cannot_cost_another_business_a_text(client, a_and_b):
    """300 genuine texts to C (on the platform's account) arrive while B, which knows its own
    token, signs 30 texts to its own number that hold NUL, all 330 at once over 50 connections:
    every request is answered 200, C's 300 texts are all stored and applied, and B's 30 too."""
    from concurrent.futures import ThreadPoolExecutor

    _, (b, b_number), (c, c_number) = a_and_b
    genuine = [("/twilio/sms", text(c_number, PLATFORM_SID, sid=f"SM{n:032d}", Body=f"Text {n}"), TOKEN)
               for n in range(300)]
    hostile = [("/twilio/sms", text(b_number, B_SID, sid=f"SMb{n:031d}", Body="\u0000" * 50), B_TOKEN)
               for n in range(30)]
    requests = genuine[:150] + [r for pair in zip(hostile, genuine[150:], strict=False) for r in pair] + genuine[180:]
    with ThreadPoolExecutor(max_workers=50) as threads:
        statuses = list(threads.map(lambda r: post(client, *r).status_code, requests))
    assert statuses == [200] * 330
    apply()
    assert count(Message, Message.business_id == c.business_id) == 300
    assert count(Message, Message.business_id == b.business_id) == 30
