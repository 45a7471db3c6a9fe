"""Operators: deletion requests across businesses, erased in bulk with per-request results."""

import pandas as pd
import streamlit as st

from kaimen_core import db, privacy, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Privacy deletions")
st.caption("Deletion requests that businesses have verified, across every business. Each erasure runs its "
           "steps with checkpoints, so an interrupted run resumes where it stopped. Requests run in batches "
           "per business, so the progress bar moves as each batch finishes.")

ui.show_done()
with st.expander("Record a request on a business's instruction"):
    with st.form("op_record"):
        left, middle, right = st.columns(3)
        slug = left.text_input("Business (slug)", key="op_slug")
        kind = middle.selectbox("Kind", privacy.KINDS, index=privacy.KINDS.index("deletion"), key="op_kind")
        regime = right.selectbox("Law", privacy.REGIMES, format_func=str.upper, key="op_regime")
        requester = left.text_input("Requester's name", key="op_requester")
        channel = middle.selectbox("How they asked", privacy.CHANNELS, key="op_channel")
        phone = right.text_input("Customer's phone", key="op_phone")
        email = left.text_input("or customer's email", key="op_email")
        if st.form_submit_button("Record request"):
            def _record(session):
                business = tenancy.business_by_slug(session, actor=actor, slug=slug)
                return privacy.record_request(session, actor=actor, business_id=business.id, kind=kind, regime=regime,
                                              channel=channel, requester_name=requester, phone=phone, email=email)

            ui.act(actor, _record, forget=["op_slug", "op_requester", "op_phone", "op_email"],
                   done=lambda view: f"Recorded request {view.id} for business {view.business_id}; the business "
                                     "verifies the person's identity before erasure.")

with db.tenant_session(actor) as session:
    pending = list(privacy.list_requests(session, actor=actor, kind="deletion", open_only=True))

if not pending:
    st.info("No open deletion requests.")
    st.stop()

ready = [v for v in pending if v.verified_at is not None]
st.dataframe(
    pd.DataFrame({
        "Id": [v.id for v in pending],
        "Business": [v.business_id for v in pending],
        "Status": [v.status.replace("_", " ") for v in pending],
        "Verified": ["yes" if v.verified_at else "no" for v in pending],
        "Due (UTC)": [ui.local_time(v.effective_due_at, "UTC", "%Y-%m-%d") for v in pending],
        "Overdue": ["OVERDUE" if v.overdue else "" for v in pending],
    }),
    hide_index=True,
    width="stretch",
)
if not ready:
    st.info("None of them has a verified identity yet; the business verifies before erasure.")
    st.stop()

chosen = st.multiselect("Requests to erase", ready, default=ready, key="bulk_chosen",
                        format_func=lambda v: f"#{v.id} (business {v.business_id})")
sure = st.checkbox("Erase the selected customers everywhere. This cannot be undone.", key="bulk_sure")
if st.button("Run erasures", type="primary", disabled=not (chosen and sure), key="bulk_run"):
    progress = st.progress(0.0, text="Starting")

    def _progress(done: int, total: int, _result) -> None:
        progress.progress(done / total, text=f"{done} of {total}")

    outcomes = privacy.erase_requests([v.id for v in chosen], actor=actor, on_progress=_progress)
    business = {v.id: v.business_id for v in chosen}
    results = [(r.request_id, business[r.request_id], r.status, r.detail) for r in outcomes]
    st.dataframe(pd.DataFrame(results, columns=["Request", "Business", "Result", "Detail"]), hide_index=True,
                 width="stretch")
    failed = sum(r[2] == "failed" for r in results)
    (st.warning if failed else st.success)(f"{len(results) - failed} erased, {failed} failed (run again to resume).")
