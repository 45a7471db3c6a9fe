"""The Messaging page's Twilio account form: an owner saves, sees only the token's ending, and removes it."""

from __future__ import annotations

import pytest

from kaimen_core.models import MessagingSettings
from tests.factories import make_business, make_staff, rows

SID = "AC" + "5e" * 16
TOKEN = "7c" * 14 + "4b2a"


@pytest.fixture
def messaging_page(signed_in):
    def open_page(tenant):
        at = signed_in(tenant.username).switch_page("pages/messaging_settings.py").run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Messaging"]
        return at

    return open_page


def _stored(business_id):
    found = rows(MessagingSettings, MessagingSettings.business_id == business_id)
    return found[0] if found else None


def _shown(at) -> str:
    return " ".join(str(e.value) for kind in (at.success, at.caption, at.error, at.markdown) for e in kind)


def test_an_owner_saves_the_account_sees_it_masked_and_removes_it(messaging_page, press):
    tenant = make_business()
    at = messaging_page(tenant)
    assert "Kaimen's Twilio account" in _shown(at)

    at.text_input(key="twilio_account_sid").input(SID)
    at.text_input(key="twilio_auth_token").input(TOKEN)
    press(at, "Save Twilio account")

    assert not at.exception and not at.error
    assert "Twilio account saved." in _shown(at)
    assert f"auth token set, ending in …{TOKEN[-4:]}" in _shown(at)
    assert TOKEN not in _shown(at) and TOKEN not in repr(at.session_state)
    assert at.text_input(key="twilio_auth_token").value == ""
    assert at.text_input(key="twilio_account_sid").value == SID
    stored = _stored(tenant.business_id)
    assert stored.twilio_account_sid == SID and TOKEN not in stored.twilio_auth_token_sealed

    press(at, "Disconnect Twilio account")
    assert not at.exception
    assert "texts go through Kaimen's account again" in _shown(at)
    assert _stored(tenant.business_id).twilio_auth_token_sealed is None
    assert at.text_input(key="twilio_account_sid").value == ""


def test_a_malformed_token_is_refused_with_the_reason_and_saves_nothing(messaging_page, press):
    tenant = make_business()
    at = messaging_page(tenant)
    at.text_input(key="twilio_account_sid").input(SID)
    at.text_input(key="twilio_auth_token").input("my password")
    press(at, "Save Twilio account")
    assert not at.exception
    assert [e.value for e in at.error] == ["An Auth Token is 32 hexadecimal characters (Twilio console, "
                                           "Account info)."]
    stored = _stored(tenant.business_id)
    assert stored is None or stored.twilio_account_sid is None


def test_staff_cannot_open_the_messaging_page(signed_in):
    tenant = make_business()
    staff, _ = make_staff(tenant)
    at = signed_in(staff.username)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/messaging_settings.py").run()
