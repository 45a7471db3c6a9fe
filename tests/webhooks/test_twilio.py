"""The Twilio routes of the sidecar: signatures, duplicates, status order, bad bodies, keywords.

A request is answered once its raw event is stored; the worker's apply step
(``webhooks.apply_received_events``) then makes its effects, so tests POST, apply,
and assert what a user or the provider sees.
"""

from __future__ import annotations

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from kaimen_core import config, customers, db, messaging
from kaimen_core.models import AuditEvent, Customer, Message, WebhookEvent
from tests.factories import count, rows
from tests.fakes.messaging import PUBLIC_URL, TOKEN, apply_webhooks, sent_text, signed, texting_business
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
    while taken := apply_webhooks():
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
def test_bad_bodies_are_refused_logged_as_a_system_event_and_store_nothing_else(client, case):
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
    status = 413 if case == "too big" else 400
    assert response.status_code == status
    assert apply() == 0
    assert count(Message) == 0 and count(WebhookEvent) == 0 and count(Customer) == 0
    (event,) = rows(AuditEvent, AuditEvent.action == "webhook.rejected")
    assert event.business_id is None and event.detail["status"] == status


def test_a_flood_of_bad_requests_writes_counts_not_a_row_each(database, twilio_env):
    """Anyone can post a malformed request: 300 of them write two system events (the first at
    once, the rest as one count when the sidecar stops), not 300 rows."""
    with TestClient(create_app(), base_url="http://127.0.0.1:8502") as client:
        for _ in range(300):
            assert client.post("/twilio/sms", content=b'{"MessageSid": "SM1"}',
                               headers={"Content-Type": "application/json"}).status_code == 400
        assert [event.detail["count"] for event in rows(AuditEvent, AuditEvent.action == "webhook.rejected")] == [1]
    events = rows(AuditEvent, AuditEvent.action == "webhook.rejected")
    assert len(events) == 2 and sum(event.detail["count"] for event in events) == 300
    assert {event.detail["reason"] for event in events} == {"body is not application/x-www-form-urlencoded"}


def test_refusals_are_written_once_a_minute_with_their_counts():
    from kaimen_core.messaging import TWILIO_WEBHOOKS
    from kaimen_core.webhooks import Refusal
    from kaimen_core.webhooks._verify import RefusalLog

    now = [1000.0]
    log = RefusalLog(clock=lambda: now[0])
    too_big, not_form = Refusal(413, "body over 64 KB", recorded=True), Refusal(400, "body is not form", recorded=True)
    assert log.note(TWILIO_WEBHOOKS, "/twilio/sms", too_big) == [(("twilio", "/twilio/sms", "body over 64 KB", 413), 1)]
    for _ in range(5):
        assert log.note(TWILIO_WEBHOOKS, "/twilio/sms", too_big) == []
    assert log.note(TWILIO_WEBHOOKS, "/twilio/status", not_form) == []
    now[0] += 61
    assert log.note(TWILIO_WEBHOOKS, "/twilio/sms", too_big) == [
        (("twilio", "/twilio/sms", "body over 64 KB", 413), 5),
        (("twilio", "/twilio/status", "body is not form", 400), 1),
        (("twilio", "/twilio/sms", "body over 64 KB", 413), 1),
    ]
    assert log.drain() == []


def stream(client, path: str, headers: dict[str, str], pieces: list[bytes]) -> tuple[int, int]:
    """POST ``pieces`` to the app as a chunked body (one ASGI message each, no Content-Length), as uvicorn hands
    one over; returns the status and how many bytes the app read before answering."""
    read: list[int] = []
    status: list[int] = []

    async def run() -> None:
        waiting = iter(pieces)

        async def receive():
            piece = next(waiting, None)
            if piece is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            read.append(len(piece))
            return {"type": "http.request", "body": piece, "more_body": True}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8502)}
        await client.app(scope, receive, send)

    client.portal.call(run)
    return status[0], sum(read)


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(client):
    """No length declared: the sidecar stops reading once the body passes 64 KB, and answers 413."""
    _, number = texting_business()
    body, headers = signed("/twilio/sms", inbound(number))
    pieces = [body.encode()] + [b"&Padding=" + b"x" * 16_000] * 100  # about 1.6 MB in all
    status, read = stream(client, "/twilio/sms", headers, pieces)
    assert status == 413
    assert read < 64 * 1024 + 16_010  # reading stopped at the piece that passed the limit
    assert count(WebhookEvent) == 0
    (event,) = rows(AuditEvent, AuditEvent.action == "webhook.rejected")
    assert event.detail["status"] == 413


def test_a_chunked_body_within_the_limit_is_stored(client):
    _, number = texting_business()
    body, headers = signed("/twilio/sms", inbound(number))
    pieces = [body[i:i + 20].encode() for i in range(0, len(body), 20)]
    assert stream(client, "/twilio/sms", headers, pieces) == (200, len(body))
    assert apply() == 1 and count(Message) == 1


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


def test_an_event_that_cannot_be_stored_is_not_acknowledged(client, database):
    from sqlalchemy import text

    _, number = texting_business()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "1" * 32)).status_code == 200
    with database.owner.begin() as owner:  # the table cannot be written: the database refuses every insert
        owner.execute(text("ALTER TABLE webhook_events RENAME TO webhook_events_away"))
    try:
        response = post(client, "/twilio/sms", inbound(number, sid="SM" + "2" * 32))
    finally:
        with database.owner.begin() as owner:
            owner.execute(text("ALTER TABLE webhook_events_away RENAME TO webhook_events"))
    assert response.status_code == 503  # Twilio sees a failure, never a 200 for a lost event
    assert [e.event_id for e in rows(WebhookEvent)] == ["SM" + "1" * 32]


def test_concurrent_requests_are_each_stored_once(client):
    from concurrent.futures import ThreadPoolExecutor

    _, number = texting_business()
    requests = [signed("/twilio/sms", inbound(number, sid=f"SM{n % 20:032d}", body=f"Text {n % 20}"))
                for n in range(40)]  # twenty texts, each delivered twice
    with ThreadPoolExecutor(max_workers=10) as threads:
        statuses = list(threads.map(lambda request: client.post("/twilio/sms", content=request[0],
                                                                 headers=request[1]).status_code, requests))
    assert statuses == [200] * 40
    assert count(WebhookEvent, WebhookEvent.status == "received") == 20
    assert apply() == 20 and count(Message) == 20


def test_a_text_holding_a_nul_is_stored_and_never_fails_the_others(client):
    """PostgreSQL's text and jsonb refuse NUL: the character is stored as U+FFFD, and the burst of genuine
    texts around such texts is stored whole, whatever requests share the moment."""
    from concurrent.futures import ThreadPoolExecutor

    tenant, number = texting_business()
    bodies = [f"Text {n}" if n % 5 else f"Bad\u0000text {n}" for n in range(30)]
    requests = [signed("/twilio/sms", inbound(number, sid=f"SM{n:032d}", body=body)) for n, body in enumerate(bodies)]
    with ThreadPoolExecutor(max_workers=10) as threads:
        statuses = list(threads.map(lambda request: client.post("/twilio/sms", content=request[0],
                                                                 headers=request[1]).status_code, requests))
    assert statuses == [200] * 30
    assert count(WebhookEvent) == 30
    assert apply() == 30
    with db.tenant_session(tenant.owner) as session:
        (conversation,) = messaging.list_conversations(session, actor=tenant.owner)
        thread = messaging.get_thread(session, actor=tenant.owner, customer_id=conversation.customer_id)
    assert sorted(m.body for m in thread.messages) == sorted(body.replace("\x00", "\ufffd") for body in bodies)


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
def test_events_are_stored_after_the_database_dropped_every_connection(client, database):
    from sqlalchemy import text

    _, number = texting_business()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "7" * 32)).status_code == 200
    with database.owner.connect() as owner:  # the server drops every other connection, as a restart would
        owner.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        owner.commit()
    assert post(client, "/twilio/sms", inbound(number, sid="SM" + "8" * 32)).status_code == 200
    assert count(WebhookEvent) == 2
