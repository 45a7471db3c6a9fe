"""Operators: each business's texting limits, and the prohibited terms every text is screened for."""

import pandas as pd
import streamlit as st

from kaimen_core import db, messaging, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Messaging rules")
ui.show_done()

with db.tenant_session(actor) as session:
    businesses = tenancy.list_businesses(session, actor=actor)
    terms = messaging.list_screening_terms(session, actor=actor)

st.subheader("Limits")
if businesses:
    with st.form("limits"):
        chosen = st.selectbox("Business", businesses, format_func=lambda b: f"{b.name} ({b.slug})",
                              key="limits_business")
        left, right = st.columns(2)
        rate = left.number_input("Texts a minute", min_value=1, max_value=10_000, value=30, key="limits_rate")
        cap = right.number_input("Texts in 24 hours", min_value=1, max_value=1_000_000, value=500, key="limits_cap")
        set_limits = st.form_submit_button("Set limits")
    if set_limits:
        ui.act(actor, lambda s: messaging.set_limits(s, actor=actor, business_id=chosen.id, rate_per_minute=int(rate),
                                                     daily_cap=int(cap)),
               done=f"Limits set for {chosen.name}.")

st.subheader("Screened terms")
st.caption("Built in: cannabis, gambling, high-risk lending, firearms and phishing wording. Add more below; "
           "senders see the reason when a text is refused.")
if terms:
    st.dataframe(pd.DataFrame(terms, columns=["Term", "Reason shown to senders"]), hide_index=True, width="stretch")
with st.form("add_term", clear_on_submit=True):
    left, right = st.columns(2)
    term = left.text_input("Term", key="term_text")
    reason = right.text_input("Reason shown to senders", key="term_reason")
    add = st.form_submit_button("Add term")
if add:
    ui.act(actor, lambda s: messaging.add_screening_term(s, actor=actor, term=term, reason=reason), done="Term added.")
