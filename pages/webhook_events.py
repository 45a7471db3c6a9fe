"""Operators: the webhook events providers delivered, newest first, and replaying them."""

import json

import pandas as pd
import streamlit as st

from kaimen_core import webhooks
from kaimen_core.exceptions import ValidationError
from kaimen_core.validators import clean_id
from kaimen_core.webhook_providers import PROVIDERS
from pages import _ui as ui

actor = ui.actor()
st.title("Webhook events")
st.caption("What Twilio and Stripe delivered, as stored before the worker applied it. Phone numbers are masked; "
           "message text and media links are shown only by their size.")
ui.show_done()

cols = st.columns(4)
provider = cols[0].selectbox("Provider", ["all", *(known.name for known in PROVIDERS)], key="events_provider")
status = cols[1].selectbox("Status", ["all", *webhooks.EVENT_STATUSES], key="events_status")
raw_business = cols[2].text_input("Business id", key="events_business", placeholder="all businesses")
page_number = cols[3].number_input("Page", min_value=1, value=1, step=1, key="events_page")
try:
    business_id = clean_id(raw_business, field="business_id", label="Business id")
except ValidationError as exc:
    st.error(ui.plain(str(exc)))
    st.stop()

page = ui.act(actor, lambda s: webhooks.list_webhook_events(
    s, actor=actor, providers=PROVIDERS, provider=None if provider == "all" else provider,
    status=None if status == "all" else status, business_id=business_id, page=int(page_number)))
if page is None:
    st.stop()
if not page.rows:
    st.info("No events match." if page.total == 0 else f"No events on page {page.page}; there are {page.pages}.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            "Id": [r.id for r in page.rows],
            "Received (UTC)": [ui.local_time(r.received_at, "UTC", "%Y-%m-%d %H:%M:%S") for r in page.rows],
            "Provider": [r.provider for r in page.rows],
            "Kind": [r.kind for r in page.rows],
            "Business": [f"{r.business_name} ({r.business_id})" if r.business_id else "" for r in page.rows],
            "Status": [r.status for r in page.rows],
            "Error": [r.error or "" for r in page.rows],
            "Provider id": [r.event_id for r in page.rows],
            "Payload": [json.dumps(r.payload, ensure_ascii=False) for r in page.rows],
        }
    ),
    hide_index=True,
    width="stretch",
)
st.caption(f"Page {page.page} of {page.pages} ({page.total} events, {page.page_size} a page, newest first).")

st.subheader("Replay")
st.caption("Replayed events go back to the worker, which applies them again. An event already applied changes "
           "nothing; a failed one is retried. Each replay is in the audit log with who did it and why.")
with st.form("replay"):
    chosen = st.multiselect("Events", [r.id for r in page.rows], key="replay_events", format_func=lambda i: f"#{i}")
    reason = st.selectbox("Why", list(webhooks.REPLAY_REASONS), format_func=webhooks.REPLAY_REASONS.get,
                          key="replay_reason")
    replay = st.form_submit_button("Replay", type="primary")
if replay:
    ui.act(actor, lambda s: webhooks.replay_webhook_events(s, actor=actor, event_ids=chosen, reason=reason),
           done=lambda replayed: f"{replayed} event{'s' if replayed != 1 else ''} queued to be applied again.")
