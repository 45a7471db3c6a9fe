"""Operators: every business, and enforcement under the acceptable-use policy."""

import pandas as pd
import streamlit as st

from kaimen_core import db, privacy, tenancy
from kaimen_core.models import ENFORCEMENT_ACTIONS
from pages import _ui as ui

actor = ui.actor()
st.title("Businesses")
ui.show_done()

cols = st.columns([1, 2])
status = cols[0].selectbox("Status", ["all", "active", "suspended", "terminated"], key="biz_status")
search = cols[1].text_input("Search", key="biz_search", placeholder="name or slug")

with db.tenant_session(actor) as session:
    rows = tenancy.list_businesses(session, actor=actor, status=None if status == "all" else status, search=search)

if not rows:
    st.info("No businesses match.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        {
            "Id": [r.id for r in rows],
            "Name": [r.name for r in rows],
            "Slug": [r.slug for r in rows],
            "Status": [r.status for r in rows],
            "Messaging": ["on" if r.messaging_enabled else "off" for r in rows],
            "Users": [r.users for r in rows],
            "Closure asked": ["yes" if r.closure_requested else "" for r in rows],
            "Since": [ui.local_time(r.created_at, "UTC", "%Y-%m-%d") for r in rows],
        }
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Take action")
labels = {
    "warn": "Warn (shown to the owner)",
    "disable_messaging": "Disable messaging",
    "enable_messaging": "Enable messaging",
    "suspend": "Suspend (signs everyone out)",
    "terminate": "Terminate",
    "reinstate": "Reinstate",
}
with st.form("enforce"):
    business = st.selectbox("Business", rows, format_func=lambda r: f"{r.name} ({r.slug}, {r.status})",
                            key="enforce_business")
    action = st.selectbox("Action", ENFORCEMENT_ACTIONS, format_func=labels.get, key="enforce_action")
    reason = st.text_area("Reason (kept on record and shown to the owner for warnings)", key="enforce_reason")
    go = st.form_submit_button("Apply", type="primary")
if go:
    ui.act(actor, lambda s: tenancy.enforce(s, actor=actor, business_id=business.id, action=action, reason=reason),
           done=f"{labels[action]}: done for {business.name}.")

with st.expander("Enforcement history"):
    with db.tenant_session(actor) as session:
        history = tenancy.list_enforcement(session, actor=actor)
    if history:
        st.dataframe(
            pd.DataFrame(
                {
                    "When (UTC)": [ui.local_time(h.created_at, "UTC") for h in history],
                    "Business": [h.business_id for h in history],
                    "Action": [h.action for h in history],
                    "Reason": [h.reason for h in history],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No actions taken yet.")

closing = [r for r in rows if r.closure_requested]
if closing:
    st.subheader("Close a business")
    st.caption("Only businesses whose owner asked. Offer the owner the export first; closing erases every row of "
               "the business and its texts at the SMS provider and its staff photos, then verifies nothing is left.")
    target = st.selectbox("Business to close", closing, format_func=lambda r: f"{r.name} ({r.slug})",
                          key="close_business")
    if st.button("Prepare its export", key="close_export"):
        export = ui.act(actor, lambda s: privacy.business_export(s, actor=actor, business_id=target.id))
        if export:
            st.download_button("Download the export (ZIP)", data=export[1], file_name=export[0],
                               mime="application/zip", key="close_download")
    with st.form("close_form"):
        typed = st.text_input("Type the business's slug to confirm", key="close_confirm")
        if st.form_submit_button("Close and erase the business", type="primary"):
            if typed.strip() != target.slug:
                st.error("Type the slug exactly to confirm.")
            else:
                ui.act(actor, lambda: privacy.close_business(actor=actor, business_id=target.id), session=False,
                       done=lambda erased: f"Closed {target.slug}: {erased['rows_removed']} rows and "
                                           f"{erased['provider_messages']} provider records erased, verified.")
