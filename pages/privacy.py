"""Owners: privacy requests from customers — record, verify, answer, and erase."""

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from kaimen_core import customers, db, privacy, retention, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Privacy requests")
st.caption("People may ask what you hold about them, to correct it, to restrict it or to erase it. "
           "Record each request here the day it arrives: the due date follows from the law that applies.")
ui.show_done()

with db.tenant_session(actor) as session:
    zone = tenancy.get_business(session, actor=actor).time_zone
    requests = privacy.list_requests(session, actor=actor)

with st.expander("Record a new request", expanded=not requests):
    with st.form("privacy_record"):
        left, middle, right = st.columns(3)
        kind = left.selectbox("Kind", privacy.KINDS, key="pr_kind")
        regime = middle.selectbox("Law", privacy.REGIMES, format_func=str.upper, key="pr_regime")
        channel = right.selectbox("How they asked", privacy.CHANNELS, key="pr_channel")
        requester = left.text_input("Requester's name", key="pr_requester")
        contact = middle.text_input("How to reach them", key="pr_contact")
        received = right.date_input("Received on", key="pr_received", max_value=datetime.now(ZoneInfo(zone)).date())
        phone = left.text_input("Customer's phone", key="pr_phone")
        email = middle.text_input("or customer's email", key="pr_email")
        submitted = st.form_submit_button("Record request", type="primary")
    if submitted:
        now_local = datetime.now(ZoneInfo(zone))
        moment = now_local if received == now_local.date() else datetime.combine(received, time(12), ZoneInfo(zone))
        ui.act(actor, lambda s: privacy.record_request(s, actor=actor, kind=kind, regime=regime, channel=channel,
                                                       requester_name=requester, requester_contact=contact,
                                                       phone=phone, email=email, received_at=moment),
               forget=["pr_requester", "pr_contact", "pr_phone", "pr_email"],
               done=lambda view: f"Recorded request {view.id}; due {ui.local_time(view.due_at, zone, '%Y-%m-%d')}.")

with st.expander("How long records are kept"):
    with db.tenant_session(actor) as session:
        periods = retention.get_periods(session, actor=actor)
    with st.form("retention"):
        left, right = st.columns(2)
        low, high = retention.LIMITS["messages_months"]
        messages = left.number_input("Text messages (months)", low, high, periods.messages_months, key="ret_msg")
        low, high = retention.LIMITS["webhook_days"]
        webhooks = right.number_input("Raw provider events (days)", low, high, periods.webhook_days, key="ret_hook")
        low, high = retention.LIMITS["audit_months"]
        audits = left.number_input("Audit log (months)", low, high, periods.audit_months, key="ret_audit")
        low, high = retention.LIMITS["requests_months"]
        records = right.number_input("Closed privacy requests (months)", low, high, periods.requests_months,
                                     key="ret_req")
        if st.form_submit_button("Save retention periods"):
            periods = retention.RetentionPeriods(int(messages), int(webhooks), int(audits), int(records))
            ui.act(actor, lambda s: retention.set_periods(s, actor=actor, periods=periods),
                   done="Retention periods saved; the daily purge applies them.")

if not requests:
    st.info("No privacy requests yet.")
    st.stop()


def _attention(view: privacy.RequestView) -> str:
    if view.overdue:
        return "OVERDUE"
    if view.due_soon:
        return "due soon"
    return ""


st.dataframe(
    pd.DataFrame({
        "Id": [v.id for v in requests],
        "Attention": [_attention(v) for v in requests],
        "Kind": [v.kind for v in requests],
        "Law": [v.regime.upper() for v in requests],
        "Status": [v.status.replace("_", " ") for v in requests],
        "Subject": [v.subject_ref or "" for v in requests],
        "Received": [ui.local_time(v.received_at, zone, "%Y-%m-%d") for v in requests],
        "Due": [ui.local_time(v.effective_due_at, zone, "%Y-%m-%d") for v in requests],
    }),
    hide_index=True,
    width="stretch",
)
overdue = sum(v.overdue for v in requests)
if overdue:
    st.error(f"{overdue} request(s) are overdue.")

chosen = st.selectbox("Work on request", requests, key="pr_chosen",
                      format_func=lambda v: f"#{v.id} · {v.kind} · {v.status.replace('_', ' ')} · {_attention(v)}")
view = next(v for v in requests if v.id == chosen.id)


st.subheader(f"Request #{view.id}: {view.kind}")
facts = {
    "Requester": view.requester_name or "(erased)", "Law": view.regime.upper(), "How they asked": view.channel,
    "Received": ui.local_time(view.received_at, zone), "Due": ui.local_time(view.effective_due_at, zone),
    "Acknowledge by": ui.local_time(view.acknowledge_by, zone) or "n/a",
    "Acknowledged": ui.local_time(view.acknowledged_at, zone) or "no",
    "Identity verified": f"{ui.local_time(view.verified_at, zone)} — {view.verification_method}"
    if view.verified_at else "not yet",
}
st.table(pd.DataFrame({"": list(facts), "Value": [ui.plain(value) for value in facts.values()]}).set_index(""))
if view.extension_notice:
    st.caption("Extension notice: " + ui.plain(view.extension_notice))
if view.refusal_reason:
    st.warning("Refused: " + ui.plain(view.refusal_reason))
if view.response:
    st.caption("Response: " + ui.plain(view.response))

open_ = view.status in privacy.OPEN_STATUSES
if open_:
    with st.form("pr_verify"):
        method = st.text_input("How was their identity checked?", key="pr_method")
        if st.form_submit_button("Record identity check"):
            ui.act(actor, lambda s: privacy.verify_identity(s, actor=actor, request_id=view.id, method=method),
                   done="Identity check recorded.")
    cols = st.columns(2)
    if view.acknowledge_by and not view.acknowledged_at and cols[0].button("Receipt acknowledged", key="pr_ack"):
        ui.act(actor, lambda s: privacy.acknowledge(s, actor=actor, request_id=view.id),
               done="Acknowledgement recorded.")
    if view.status == "verified" and cols[1].button("Start work", key="pr_start"):
        ui.act(actor, lambda s: privacy.start(s, actor=actor, request_id=view.id), done="Marked in progress.")

if open_ and view.kind == "access":
    if st.button("Prepare the access export", key="pr_prepare"):
        export = ui.act(actor, lambda s: privacy.access_export(s, actor=actor, request_id=view.id))
        if export:
            st.download_button("Download ZIP", data=export[1], file_name=export[0], mime="application/zip",
                               key="pr_download")
elif open_ and view.kind == "correction":
    st.caption("Correct the details on the customer's page, then record which fields you changed.")
    fields = st.multiselect("Fields corrected", list(customers.CustomerCreate.inputs()), key="pr_fields")
    if st.button("Record correction", key="pr_correct"):
        ui.act(actor, lambda s: privacy.record_correction(s, actor=actor, request_id=view.id, fields=fields),
               done="Correction recorded.")
elif view.kind == "restriction" and view.status != "refused":
    if open_ and st.button("Restrict the customer (no texts, no AI, no exports or marketing)", key="pr_restrict"):
        ui.act(actor, lambda s: privacy.restrict(s, actor=actor, request_id=view.id), done="Customer restricted.")
    with st.form("pr_lift"):
        notice = st.text_area("Notice given to the person before lifting", key="pr_lift_notice")
        if st.form_submit_button("Lift the restriction"):
            ui.act(actor, lambda s: privacy.lift_restriction(s, actor=actor, request_id=view.id, notice=notice),
                   done="Restriction lifted.")
elif open_ and view.kind == "deletion":
    st.warning("Erasure deletes the customer, their messages and consent history, detaches them from bookings, "
               "deletes their message records at the SMS provider, then scans every table to prove nothing is left.")
    sure = st.checkbox("I understand this cannot be undone.", key="pr_sure")
    if st.button("Run erasure", type="primary", key="pr_erase", disabled=not sure):
        ui.act(actor, lambda: privacy.run_erasure(actor=actor, request_id=view.id), session=False,
               done=f"Erasure complete for request #{view.id}; certificate issued.")

if view.certificate:
    st.subheader("Completion certificate")
    st.code(json.dumps(view.certificate, indent=2), language="json")

if open_ and view.kind != "deletion":
    with st.form("pr_complete"):
        response = st.text_area("How was it answered?", key="pr_response")
        if st.form_submit_button("Mark completed"):
            ui.act(actor, lambda s: privacy.complete(s, actor=actor, request_id=view.id, response=response),
                   done="Request completed.")
if open_:
    with st.form("pr_extend"):
        notice = st.text_area("Extension notice sent to the person", key="pr_notice")
        if st.form_submit_button("Extend the due date"):
            ui.act(actor, lambda s: privacy.extend(s, actor=actor, request_id=view.id, notice=notice),
                   done="Due date extended.")
    with st.form("pr_refuse"):
        reason = st.text_area("Legal reason for refusing", key="pr_reason")
        if st.form_submit_button("Refuse the request"):
            ui.act(actor, lambda s: privacy.refuse(s, actor=actor, request_id=view.id, legal_reason=reason),
                   done="Request refused.")
