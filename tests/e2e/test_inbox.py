"""An owner reads and answers a simulated incoming text, in Chromium against a real server and worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.journeys import idle, signed_in_page

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright for Python")
expect = sync_api.expect

pytestmark = pytest.mark.browser



def test_an_owner_reads_and_answers_a_simulated_incoming_text(server, new_context):
    page = signed_in_page(server, new_context)

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Inbox").click()
    idle(page)
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
    page.get_by_text("Simulate an incoming text").click()
    page.get_by_role("textbox", name="From number").fill("+1 212 555 0199")
    page.get_by_role("textbox", name="Text").fill("Hi! Any chance of a trim on Friday?")
    page.get_by_role("button", name="Receive text").click()
    idle(page)
    expect(page.get_by_text("A text arrived.")).to_be_visible()

    page.get_by_role("button", name="+12125550199 · 1 unread").click()
    idle(page)
    expect(page.get_by_text("Hi! Any chance of a trim on Friday?").first).to_be_visible()
    page.get_by_role("textbox", name="Message").fill("Yes! Friday at 3pm works.")
    page.get_by_role("textbox", name="Message").press("Control+Enter")
    idle(page)
    expect(page.get_by_text("25 characters · GSM-7 · 1 segment")).to_be_visible()
    page.get_by_role("button", name="Send").click()
    idle(page)
    expect(page.get_by_text("Sent.")).to_be_visible()
    reply = page.get_by_role("group", name="Chat message from assistant").filter(has_text="Yes! Friday at 3pm works.")
    expect(reply).to_be_visible()
    expect(reply.get_by_text("⏳ queued")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    page.get_by_role("button", name="Mark as read").click()
    idle(page)
    expect(page.get_by_role("button", name="+12125550199", exact=True)).to_be_visible()

    # The worker delivers the reply through the offline outbox; the thread updates without a reload.
    worker = subprocess.Popen([sys.executable, "-m", "kaimen_core", "worker"], env=server.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        expect(reply.get_by_text("✓✓ delivered")).to_be_visible(timeout=20_000)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=10)
