"""An owner imports a small CSV and downloads the export, in Chromium against a real server."""

from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.journeys import idle, signed_in_page

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright for Python")
expect = sync_api.expect

pytestmark = pytest.mark.browser

FILE = ("name;phone;email;tags\r\n"
        "Zoë Quintero;(212) 555-0177;zoe@example.com;vip\r\n"
        "=Evil Formula;212 555 0178;;\r\n"
        "No Number;12;;\r\n").encode("utf-8-sig")


def test_an_owner_imports_a_small_file_and_downloads_the_export(server, new_context, tmp_path):
    page = signed_in_page(server, new_context)

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Import customers").click()
    idle(page)
    expect(page.get_by_role("heading", name="Import customers")).to_be_visible()
    source = tmp_path / "clients.csv"
    source.write_bytes(FILE)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(source))
    expect(page.get_by_text("3 rows · UTF-8 with BOM · separated by semicolons")).to_be_visible()
    idle(page)
    page.get_by_role("button", name="Check the file").click()
    idle(page)
    expect(page.get_by_text("Refused", exact=True)).to_be_visible()
    page.get_by_role("button", name="Import the valid rows").click()
    idle(page)
    expect(page.get_by_text("Imported: created 2, updated 0, unchanged 0, skipped 0, refused 1.")).to_be_visible()

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Customers").first.click()
    idle(page)
    page.get_by_role("textbox", name="Search").fill("555-0177")
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").filter(has_text="Search").click()
    idle(page)
    expect(page.get_by_role("heading", name="Zoë Quintero")).to_be_visible()
    # The heading shows while the run still draws the rest of the page. A download clicked
    # then can wait forever: the run's end gives the button a new deferred file id, and the
    # answer to the click, sent for the old one, is dropped.
    idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    data = (tmp_path / "export.csv")
    download.value.save_as(data)
    raw = data.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfname,phone,email")
    exported = {r["name"]: r for r in csv.DictReader(io.StringIO(raw[3:].decode()))}
    assert exported["Zoë Quintero"]["phone"] == "'+12125550177"
    assert exported["Zoë Quintero"]["tags"] == "vip"
    assert "'=Evil Formula" in exported  # neutralised for spreadsheets
