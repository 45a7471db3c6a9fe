"""An owner records an access request, verifies the person and downloads the ZIP, in Chromium."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.e2e.journeys import idle, signed_in_page

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright for Python")
expect = sync_api.expect

pytestmark = pytest.mark.browser



def test_an_owner_completes_an_access_request_and_downloads_the_zip(server, new_context, tmp_path):
    page = signed_in_page(server, new_context)

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Privacy requests").click()
    idle(page)
    expect(page.get_by_role("heading", name="Privacy requests")).to_be_visible()
    page.get_by_role("textbox", name="Requester's name").fill("Ava Martinez")
    page.get_by_role("textbox", name="Customer's phone").fill("(212) 555-0100")
    page.get_by_role("button", name="Record request").click()
    idle(page)
    expect(page.get_by_text("Recorded request", exact=False)).to_be_visible()

    page.get_by_role("textbox", name="How was their identity checked?").fill("Texted a code to the number on file")
    page.get_by_role("button", name="Record identity check").click()
    idle(page)
    expect(page.get_by_text("Identity check recorded.")).to_be_visible()
    page.get_by_role("button", name="Prepare the access export").click()
    expect(page.get_by_role("button", name="Download ZIP")).to_be_visible()
    idle(page)  # the run that drew the button has ended: a click now is not lost
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ZIP").click()
    path = tmp_path / "access.zip"
    download.value.save_as(path)
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert "README.txt" in archive.namelist()
    profile = json.loads(archive.read("profile.json"))[0]
    assert profile["phone_e164"] == "+12125550100"
    assert json.loads(archive.read("bookings.json")), "the demo customer's bookings are in the export"

    page.get_by_role("textbox", name="How was it answered?").fill("Sent the ZIP to the customer by email.")
    page.get_by_role("button", name="Mark completed").click()
    idle(page)
    expect(page.get_by_text("Request completed.")).to_be_visible()
