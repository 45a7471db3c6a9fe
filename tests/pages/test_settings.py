"""The Settings page: an owner changes the business's name, country, time zone and phone."""

from __future__ import annotations

import pytest

from kaimen_core import db
from kaimen_core.models import Business
from tests.factories import make_business, rows


def _business(business_id: int) -> Business:
    with db.system_session() as session:
        return session.get(Business, business_id)


@pytest.fixture
def settings_page(signed_in):
    """An owner's tab on the Settings page."""

    def open_page(tenant):
        at = signed_in(tenant.username).switch_page("pages/settings.py").run()
        assert not at.exception
        assert [t.value for t in at.title] == ["Settings"]
        return at

    return open_page


def test_the_form_shows_the_business_as_stored(settings_page):
    tenant = make_business("Harbour Salon", time_zone="America/Chicago")

    at = settings_page(tenant)

    assert at.text_input(key="settings_name").value == "Harbour Salon"
    assert at.selectbox(key="settings_region").value == "US"
    assert at.selectbox(key="settings_time_zone").value == "America/Chicago"
    assert at.text_input(key="settings_phone").value == "+12125550100"


def test_an_owner_renames_the_business_and_changes_its_time_zone(settings_page, press):
    tenant = make_business("Harbour Salon")
    at = settings_page(tenant)

    at.text_input(key="settings_name").input("Harbour Salon and Spa")
    at.selectbox(key="settings_time_zone").select("Europe/Lisbon")
    press(at, "Save")

    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == ["Saved."]
    stored = _business(tenant.business_id)
    assert (stored.name, stored.time_zone, stored.region, stored.phone) == (
        "Harbour Salon and Spa", "Europe/Lisbon", "US", "+12125550100"
    )
    assert at.text_input(key="settings_name").value == "Harbour Salon and Spa"
    assert at.selectbox(key="settings_time_zone").value == "Europe/Lisbon"

    at.switch_page("pages/dashboard.py").run()
    assert [t.value for t in at.title] == ["Harbour Salon and Spa"]
    [caption] = [c.value for c in at.main.caption if c.value.startswith("Signed in as")]
    assert caption.endswith("times shown in Europe/Lisbon")


def test_a_phone_number_is_read_in_the_chosen_country(settings_page, press):
    tenant = make_business()
    at = settings_page(tenant)

    at.selectbox(key="settings_region").select("GB")
    at.text_input(key="settings_phone").input("020 7946 0018")
    press(at, "Save")

    assert not at.error
    stored = _business(tenant.business_id)
    assert (stored.region, stored.phone) == ("GB", "+442079460018")


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("call me", "'call me' is not a phone number."),
        ("555", "'555' is not a valid phone number for US; include the country code (+44 ...) for numbers "
                "from other countries."),
    ],
)
def test_a_bad_phone_number_shows_an_error_and_changes_nothing(settings_page, press, phone, message):
    tenant = make_business("Harbour Salon")
    before = _business(tenant.business_id)
    at = settings_page(tenant)

    at.text_input(key="settings_name").input("Another Name")
    at.selectbox(key="settings_time_zone").select("Europe/Lisbon")
    at.text_input(key="settings_phone").input(phone)
    press(at, "Save")

    assert not at.exception
    assert [e.value for e in at.error] == [message]
    assert not at.success
    assert _business(tenant.business_id).model_dump() == before.model_dump()


def test_an_empty_name_shows_an_error_and_changes_nothing(settings_page, press):
    tenant = make_business("Harbour Salon")
    before = _business(tenant.business_id)
    at = settings_page(tenant)

    at.text_input(key="settings_name").input("   ")
    press(at, "Save")

    assert [e.value for e in at.error] == ["Business name is required."]
    assert _business(tenant.business_id).model_dump() == before.model_dump()


def test_an_owner_downloads_everything_then_asks_kaimen_to_close_the_business(signed_in, press):
    tenant = make_business("Closing Time")
    at = signed_in(tenant.username).switch_page("pages/settings.py").run()
    press(at, "Prepare a full export")
    assert [b.label for b in at.get("download_button")] == ["Download the export (ZIP)"]
    at.text_input(key="closure_confirm").input("Closing time")
    press(at, "Ask Kaimen to close this business")
    assert [e.value for e in at.error] == ["Type the business's name exactly to confirm."]
    at.text_input(key="closure_confirm").input("Closing Time")
    press(at, "Ask Kaimen to close this business")
    assert "Closure requested. A Kaimen operator will carry it out." in [s.value for s in at.success]
    assert rows(Business, Business.id == tenant.business_id)[0].closure_requested_at is not None
    press(at, "Withdraw the request")
    assert rows(Business, Business.id == tenant.business_id)[0].closure_requested_at is None
