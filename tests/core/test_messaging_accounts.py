"""A business's own Twilio account: validated, sealed at rest, never shown back, used for its sends."""

from __future__ import annotations

import pytest
from sqlmodel import select

from kaimen_core import config, db, messaging
from kaimen_core.exceptions import PermissionDenied, ValidationError
from kaimen_core.models import AuditEvent, Message, MessagingSettings
from kaimen_core.providers.sms import TwilioProvider
from kaimen_core.worker import Worker
from tests.factories import make_operator, make_staff, rows
from tests.fakes.messaging import PUBLIC_URL, at, customer, texting_business
from tests.fakes.twilio import FakeTwilio

SID = "AC" + "1234abcd" * 4
TOKEN = "0f" * 14 + "9e7d"
NOW = at("2026-11-27 17:00")


def connect(tenant, sid: str = SID, token: str = TOKEN) -> messaging.TwilioAccountView:
    with db.tenant_session(tenant.owner) as session:
        return messaging.set_twilio_account(session, actor=tenant.owner, account_sid=sid, auth_token=token)


def stored(business_id: int) -> MessagingSettings:
    return rows(MessagingSettings, MessagingSettings.business_id == business_id)[0]


def test_an_owner_connects_an_account_and_sees_only_the_token_ending(database):
    tenant, _ = texting_business()
    view = connect(tenant, sid=" " + SID.upper() + " ", token=TOKEN.upper())  # typed in capitals, with spaces
    assert (view.account_sid, view.token_ending, view.readable, view.connected) == (SID, "9e7d", True, True)
    assert TOKEN not in repr(view) and TOKEN.upper() not in repr(view)
    with db.tenant_session(tenant.owner) as session:
        assert messaging.get_twilio_account(session, actor=tenant.owner) == view


def test_the_token_is_encrypted_at_rest(database):
    tenant, _ = texting_business()
    connect(tenant)
    with db.system_session() as session:  # the raw column, as the database holds it
        (raw,) = session.connection().exec_driver_sql(
            "SELECT twilio_auth_token_sealed FROM messaging_settings WHERE business_id = "
            f"{int(tenant.business_id)}").one()
    assert raw.startswith("v1:") and TOKEN not in raw and TOKEN[-4:] not in raw
    connect(tenant)  # a fresh nonce every time: the same token never seals to the same text
    assert stored(tenant.business_id).twilio_auth_token_sealed != raw


def test_a_sealed_token_copied_into_another_business_does_not_open(database):
    tenant, _ = texting_business()
    other, _ = texting_business()
    connect(tenant)
    connect(other, token="ab" * 16)
    copied = stored(tenant.business_id).twilio_auth_token_sealed
    with db.system_session() as session:
        row = session.exec(select(MessagingSettings).where(MessagingSettings.business_id == other.business_id)).one()
        row.twilio_auth_token_sealed = copied
        session.add(row)
    with db.tenant_session(other.owner) as session:
        view = messaging.get_twilio_account(session, actor=other.owner)
    assert (view.connected, view.readable, view.token_ending) == (True, False, None)


def test_the_audit_records_the_change_without_the_token(database):
    tenant, _ = texting_business()
    connect(tenant)
    with db.tenant_session(tenant.owner) as session:
        messaging.remove_twilio_account(session, actor=tenant.owner)
    events = rows(AuditEvent, AuditEvent.business_id == tenant.business_id)
    actions = [e.action for e in events]
    assert "messaging.twilio_account_set" in actions and "messaging.twilio_account_removed" in actions
    for event in events:
        assert TOKEN not in repr(event.detail) and TOKEN not in repr(event)


@pytest.mark.parametrize(("sid", "token", "field"), [
    ("", TOKEN, "account_sid"),
    ("AC123", TOKEN, "account_sid"),
    ("ac" + "1234abcd" * 4, TOKEN, "account_sid"),
    ("SK" + "1234abcd" * 4, TOKEN, "account_sid"),
    (SID, "", "auth_token"),
    (SID, "   ", "auth_token"),
    (SID, "not-a-twilio-token-not-a-twilio!", "auth_token"),
    (SID, TOKEN + "0", "auth_token"),
])
def test_malformed_credentials_are_refused_and_change_nothing(database, sid, token, field):
    tenant, _ = texting_business()
    with pytest.raises(ValidationError) as refused:
        connect(tenant, sid=sid, token=token)
    assert refused.value.field == field and TOKEN not in str(refused.value)
    assert not rows(MessagingSettings, MessagingSettings.business_id == tenant.business_id,
                    MessagingSettings.twilio_account_sid.is_not(None))


def test_the_platform_account_cannot_be_connected_as_a_business_account(database, monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", SID)
    config.reset_settings()
    tenant, _ = texting_business()
    with pytest.raises(ValidationError, match="Kaimen's own"):
        connect(tenant)
    monkeypatch.undo()
    config.reset_settings()


def test_removing_the_account_clears_sid_and_token(database):
    tenant, _ = texting_business()
    connect(tenant)
    with db.tenant_session(tenant.owner) as session:
        assert not messaging.remove_twilio_account(session, actor=tenant.owner).connected
    row = stored(tenant.business_id)
    assert (row.twilio_account_sid, row.twilio_auth_token_sealed) == (None, None)


def test_staff_and_operators_can_neither_see_nor_set_it(database):
    tenant, _ = texting_business()
    connect(tenant)
    staff, _ = make_staff(tenant)
    operator, _ = make_operator()
    for actor in (staff, operator):
        with db.tenant_session(actor) as session:
            with pytest.raises(PermissionDenied):
                messaging.get_twilio_account(session, actor=actor)
            with pytest.raises(PermissionDenied):
                messaging.set_twilio_account(session, actor=actor, account_sid=SID, auth_token="cd" * 16)
            with pytest.raises(PermissionDenied):
                messaging.remove_twilio_account(session, actor=actor)
    assert stored(tenant.business_id).twilio_account_sid == SID


# --- sending through the business's own account ------------------------------------------


@pytest.fixture
def fake(monkeypatch):
    with FakeTwilio() as server:
        monkeypatch.setenv("KAIMEN_PUBLIC_URL", PUBLIC_URL)
        monkeypatch.setenv("KAIMEN_TWILIO_API_BASE", server.base_url)
        config.reset_settings()
        yield server
        monkeypatch.undo()
        config.reset_settings()


def _queue(tenant, body="See you Friday"):
    cid = customer(tenant)
    with db.tenant_session(tenant.owner) as session:
        return messaging.send_text(session, actor=tenant.owner, customer_id=cid, body=body, now=NOW).id


def test_texts_of_a_business_with_its_own_account_go_through_that_account(database, fake):
    own, own_number = texting_business()
    platform, platform_number = texting_business()
    connect(own)
    fake.add_account(SID, TOKEN)
    worker = Worker(provider=TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.base_url), name="w")
    own_message, platform_message = _queue(own), _queue(platform)
    assert worker.run_once(now=NOW) == 2
    by_from = {sent["From"]: sent["account_sid"] for sent in fake.sent}
    assert by_from == {own_number: SID, platform_number: fake.account_sid}
    for message_id in (own_message, platform_message):
        assert rows(Message, Message.id == message_id)[0].status == "sent"


def test_a_token_that_cannot_be_read_fails_the_text_with_the_reason(database, fake):
    tenant, _ = texting_business()
    connect(tenant)
    with db.system_session() as session:
        row = session.exec(select(MessagingSettings).where(MessagingSettings.business_id == tenant.business_id)).one()
        row.twilio_auth_token_sealed = "v1:" + "A" * 60  # as if KAIMEN_SECRETS_KEY had changed
        session.add(row)
    message_id = _queue(tenant)
    worker = Worker(provider=TwilioProvider(fake.account_sid, fake.auth_token, api_base=fake.base_url), name="w")
    worker.run_once(now=NOW)
    message = rows(Message, Message.id == message_id)[0]
    assert message.status == "failed" and "enter it again" in message.error_message
    assert fake.sent == []
