"""The Twilio routes of the sidecar: signatures, duplicates, status order, bad bodies, keywords.

A request is answered once its raw event is stored; the worker's apply step
(``messaging.apply_pending_webhooks``) then makes its effects, so tests POST, apply,
and assert what a user or the provider sees.
"""

from __future__ import annotations

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from kaimen_core import config, customers, db, messaging
from kaimen_core.models import AuditEvent, Customer, Message, WebhookEvent
from tests.factories import count, rows
from tests.fakes.messaging import PUBLIC_URL, TOKEN, sent_text, signed, texting_business
from webhooks.app import create_app

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
def twilio_env(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("KAIMEN_PUBLIC_URL", PUBLIC_URL)
    config.reset_settings()
    yield
    monkeypatch.undo()
    config.reset_settings()


@pytest.fixture
def client(database, twilio_env):
    with TestClient(create_app(), base_url="http://127.0.0.1:8502") as test_client:
        yield test_client


def inbound(number: str, sid: str = "SM" + "a" * 32, body: str = "Hi, can I book Friday?", **extra) -> dict:
    return {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+12125550123", "To": number,
            "Body": body, "NumMedia": "0", **extra}


def post(client, path, params, **sign):
    body, headers = signed(path, params, **sign)
    return client.post(path, content=body, headers=headers)


def apply() -> int:
    """The worker's apply step, until no received event is left."""
    applied = 0
    while taken := messaging.apply_pending_webhooks():
        applied += taken
    return applied


def test_a_signed_inbound_text_creates_the_customer_and_message_and_answers_empty_twiml(client):
    tenant, number = texting_business()
    response = post(client, "/twilio/sms", inbound(number, NumMedia="1", MediaUrl0="https://api.twilio.com/m/1.jpg",
                                                   MediaContentType0="image/jpeg"))
    assert response.status_code == 200
    assert response.text == EMPTY_TWIML and response.headers["content-type"].startswith("text/xml")
    assert apply() == 1
    (message,) = rows(Message)
    assert (message.direction, message.status, message.body) == ("inbound", "received", "Hi, can I book Friday?")
    assert message.media == [{"url": "https://api.twilio.com/m/1.jpg", "content_type": "image/jpeg"}]
    (person,) = rows(Customer, Customer.business_id == tenant.business_id)
    assert person.phone_e164 == "+12125550123" and message.customer_id == person.id
    (event,) = rows(WebhookEvent)
    assert (event.kind, event.status, event.business_id, event.error) == (
        "sms.inbound", "applied", tenant.business_id, None)
    with db.tenant_session(tenant.owner) as session:  # the new customer can be found by their number
        page = customers.search_customers(session, actor=tenant.owner, query="555-0123")
    assert [c.id for c in page.customers] == [person.id]


def test_the_same_message_sid_twice_has_one_effect(client):
    _, number = texting_business()
    for _ in range(3):
        assert post(client, "/twilio/sms", inbound(number)).status_code == 200
    assert count(WebhookEvent) == 1
    assert apply() == 1
    assert post(client, "/twilio/sms", inbound(number)).status_code == 200  # again after it was applied
    assert apply() == 0
    assert count(Message) == 1 and count(WebhookEvent) == 1 and count(Customer) == 1


@pytest.mark.parametrize("case", ["wrong url", "http not https", "wrong token", "missing header", "tampered"])
def test_a_bad_or_missing_signature_is_403_and_stores_nothing(client, case):
    _, number = texting_business()
    params = inbound(number)
    sign = {"wrong url": {"url": PUBLIC_URL + "/twilio/other"},
            "http not https": {"url": PUBLIC_URL.replace("https://", "http://") + "/twilio/sms"},
            "wrong token": {"token": "not-the-token"}}.get(case, {})
    body, headers = signed("/twilio/sms", params, **sign)
    if case == "missing header":
        del headers["X-Twilio-Signature"]
    if case == "tampered":
        body = body.replace("Friday", "Monday")
    response = client.post("/twilio/sms", content=body, headers=headers)
    assert response.status_code == 403
    assert apply() == 0
    assert count(Message) == 0 and count(WebhookEvent) == 0 and count(Customer) == 0


def test_extra_unknown_parameters_still_validate(client):
    _, number = texting_business()
    params = inbound(number, SmsStatus="received", NewTwilioField="surprise", FromCity="NEW YORK")
    assert post(client, "/twilio/sms", params).status_code == 200
    apply()
    assert count(Message) == 1


def test_proxy_headers_do_not_change_the_url_the_signature_is_checked_against(client):
    _, number = texting_business()
    params = inbound(number)
    body, headers = signed("/twilio/sms", params)
    headers.update({"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "Host": "internal:8502"})
    assert client.post("/twilio/sms", content=body, headers=headers).status_code == 200
    # Signed for the address the proxy forwarded to instead of the public one: refused.
    body, headers = signed("/twilio/sms", inbound(number, sid="SM" + "b" * 32),
                           url="http://internal:8502/twilio/sms")
    assert client.post("/twilio/sms", content=body, headers=headers).status_code == 403
    apply()
    assert count(Message) == 1


def test_no_twilio_token_configured_is_403(database, monkeypatch):
    monkeypatch.setenv("KAIMEN_PUBLIC_URL", PUBLIC_URL)
    config.reset_settings()
    try:
        _, number = texting_business()
        with TestClient(create_app()) as test_client:
            assert post(test_client, "/twilio/sms", inbound(number)).status_code == 403
    finally:
        monkeypatch.undo()
        config.reset_settings()
    assert count(Message) == 0 and count(WebhookEvent) == 0


@pytest.mark.parametrize("case", ["json", "too big", "missing From", "not utf-8"])
def test_bad_bodies_are_400_logged_as_a_system_event_and_store_nothing_else(client, case):
    _, number = texting_business()
    params = inbound(number)
    if case == "missing From":
        del params["From"]
    body, headers = signed("/twilio/sms", params)
    if case == "json":
        headers["Content-Type"] = "application/json"
        body = '{"MessageSid": "SM1"}'
    elif case == "too big":
        body = body + "&Padding=" + "x" * 70_000
    content = body.encode() if case != "not utf-8" else b"Body=\xff\xfe"
    response = client.post("/twilio/sms", content=content, headers=headers)
    assert response.status_code == 400
    assert apply() == 0
    assert count(Message) == 0 and count(WebhookEvent) == 0 and count(Customer) == 0
    (event,) = rows(AuditEvent, AuditEvent.action == "webhook.rejected")
    assert event.business_id is None and event.detail["status"] == 400


def test_an_unknown_to_number_is_200_empty_twiml_and_logged(client):
    texting_business()
    response = post(client, "/twilio/sms", inbound("+15555559999"))
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    assert apply() == 1
    assert count(Message) == 0 and count(Customer) == 0
    assert count(AuditEvent, AuditEvent.action == "webhook.unknown_number") == 1
    (event,) = rows(WebhookEvent)  # kept, failed with the reason, for an operator to replay
    assert (event.status, event.error, event.business_id) == ("failed", "no business has the To number", None)


def test_status_callbacks_never_move_a_message_backwards(client):
    tenant, _ = texting_business()
    sid = "SM" + "c" * 32
    message_id = sent_text(tenant, sid)
    query = f"m={message_id}"
    for status in ("delivered", "sent", "queued", "delivered"):
        body, headers = signed("/twilio/status", {"MessageSid": sid, "MessageStatus": status}, query=query)
        assert client.post(f"/twilio/status?{query}", content=body, headers=headers).status_code == 200
    apply()
    assert rows(Message, Message.id == message_id)[0].status == "delivered"
    # delivered, sent, queued stored once each; the repeated (sid, delivered) did nothing.
    assert count(WebhookEvent) == 3


def test_a_status_callback_for_a_text_the_worker_never_heard_back_about_links_it_by_its_id(client):
    tenant, _ = texting_business()
    message_id = sent_text(tenant, None)
    body, headers = signed("/twilio/status", {"MessageSid": "SM" + "d" * 32, "MessageStatus": "sent"},
                           query=f"m={message_id}")
    assert client.post(f"/twilio/status?m={message_id}", content=body, headers=headers).status_code == 200
    apply()
    stored = rows(Message, Message.id == message_id)[0]
    assert stored.provider_sid == "SM" + "d" * 32


def test_an_undelivered_callback_with_21610_opts_the_customer_out(client):
    tenant, _ = texting_business()
    sid = "SM" + "e" * 32
    message_id = sent_text(tenant, sid)
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    assert post(client, "/twilio/status", params).status_code == 200
    apply()
    stored = rows(Message, Message.id == message_id)[0]
    assert (stored.status, stored.error_code) == ("undelivered", "21610")
    assert rows(Customer, Customer.id == stored.customer_id)[0].opted_out_at is not None


def test_stop_by_text_opts_out_and_queues_one_confirmation(client):
    _, number = texting_business()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "1" * 32, body="  stop! ")).status_code == 200
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "2" * 32, body="STOP")).status_code == 200
    apply()
    outbound = rows(Message, Message.direction == "outbound")
    assert len(outbound) == 1 and "unsubscribed" in outbound[0].body


def test_a_text_is_answered_once_stored_and_becomes_a_message_when_the_worker_applies_it(client):
    tenant, number = texting_business()
    response = post(client, "/twilio/sms", inbound(number))
    assert (response.status_code, response.text) == (200, EMPTY_TWIML)
    assert count(Message) == 0 and count(Customer) == 0  # nothing applied in the request
    (event,) = rows(WebhookEvent)
    assert (event.status, event.kind, event.payload["MessageSid"]) == ("received", "sms.inbound", "SM" + "a" * 32)
    assert apply() == 1
    with db.tenant_session(tenant.owner) as session:
        (conversation,) = messaging.list_conversations(session, actor=tenant.owner)
        thread = messaging.get_thread(session, actor=tenant.owner, customer_id=conversation.customer_id)
    assert [m.body for m in thread.messages] == ["Hi, can I book Friday?"]


def test_an_event_that_cannot_be_stored_is_not_acknowledged(client, monkeypatch):
    from kaimen_core.messaging import _ingest

    _, number = texting_business()

    async def down(*_args, **_kwargs):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(_ingest._Lane, "write", down)
    response = post(client, "/twilio/sms", inbound(number))
    assert response.status_code == 503  # Twilio sees a failure, never a 200 for a lost event
    assert count(WebhookEvent) == 0


def test_concurrent_requests_share_one_insert_and_one_commit(database, monkeypatch):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from kaimen_core.messaging import _ingest
    from kaimen_core.models import utcnow

    writer = _ingest.EventWriter(lanes=1)
    batches: list[int] = []
    real_write = _ingest._Lane.write

    async def slow_write(lane, engine, events):
        batches.append(len(events))
        await asyncio.sleep(0.05)  # the first commit is slow: the others gather behind it
        await real_write(lane, engine, events)

    monkeypatch.setattr(_ingest._Lane, "write", slow_write)

    async def deliver():
        events = [messaging.TwilioEvent(event_id=f"SM{n:032d}", kind="sms.inbound", received_at=utcnow(),
                                        payload={"MessageSid": f"SM{n:032d}", "From": "+12125550123", "To": "+1"})
                  for n in range(20)]
        first = asyncio.ensure_future(writer.store(events[0]))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, *(writer.store(event) for event in events[1:]))
        await writer.aclose()

    # A loop of its own on a thread of its own, whatever else runs in the test process.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, deliver()).result(timeout=30)
    assert batches == [1, 19]
    assert count(WebhookEvent, WebhookEvent.status == "received") == 20


def test_an_unknown_number_replayed_after_it_is_assigned_becomes_a_message(client):
    tenant, _ = texting_business()
    post(client, "/twilio/sms", inbound("+15555559998"))
    apply()
    with db.system_session() as session:
        from kaimen_core.models import Business

        business = session.get(Business, tenant.business_id)
        business.messaging_number = "+15555559998"
        session.add(business)
        event = session.exec(select(WebhookEvent)).one()
        event.status = "received"
        session.add(event)
    assert apply() == 1
    assert [m.business_id for m in rows(Message)] == [tenant.business_id]


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_the_writer_reconnects_when_its_kept_connection_has_gone(client, database):
    from sqlalchemy import text

    _, number = texting_business()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "7" * 32)).status_code == 200
    lanes = client.app.state.twilio.writer._lanes
    kept = [lane.connection for lane in lanes if lane.connection is not None]
    assert kept, "the writer keeps its connection between batches"
    with database.owner.connect() as owner:  # the server drops every other connection, as a restart would
        owner.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        owner.commit()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "8" * 32)).status_code == 200
    assert count(WebhookEvent) == 2
    assert all(lane.connection not in kept for lane in lanes)
