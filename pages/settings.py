"""Owners: the business's name, country, time zone and contact number."""

import streamlit as st

from kaimen_core import db, privacy, tenancy
from kaimen_core.models import BusinessUpdate
from kaimen_core.validators import region_choices, time_zone_choices
from pages import _ui as ui

actor = ui.actor()
st.title("Settings")
ui.show_done()

with db.tenant_session(actor) as session:
    business = tenancy.get_business(session, actor=actor)

zones = time_zone_choices()
regions = region_choices()
with st.form("business_settings"):
    name = st.text_input("Business name", value=business.name, key="settings_name")
    left, right = st.columns(2)
    region = left.selectbox("Country", regions, index=regions.index(business.region), key="settings_region")
    zone = right.selectbox("Time zone", zones, index=zones.index(business.time_zone) if business.time_zone in zones
                           else 0, key="settings_time_zone")
    phone = st.text_input("Contact phone", value=business.phone or "", key="settings_phone")
    save = st.form_submit_button("Save", type="primary")

st.caption(f"Kaimen address: `{business.slug}` · messaging number: {business.messaging_number or 'not assigned'} · "
           f"messaging {'enabled' if business.messaging_enabled else 'disabled by Kaimen'}")

if save:
    def _save():
        with db.tenant_session(actor) as session:
            return tenancy.update_business(
                session, actor=actor, changes=BusinessUpdate(name=name, region=region, time_zone=zone, phone=phone)
            )

    if ui.attempt(_save):
        ui.done_and_rerun("Saved.")

st.subheader("Close this business")
if business.closure_requested_at:
    asked = ui.local_time(business.closure_requested_at, business.time_zone)
    st.warning(f"You asked Kaimen to close this business on {asked}. A Kaimen operator will erase all of its "
               "data, including texts held by the SMS provider.")
    if st.button("Withdraw the request", key="closure_cancel"):
        def _cancel():
            with db.tenant_session(actor) as session:
                privacy.cancel_closure(session, actor=actor)
            return True

        if ui.attempt(_cancel):
            ui.done_and_rerun("Closure request withdrawn.")
st.caption("Download everything first: closing erases the customers, bookings, texts, staff and history for good.")
if st.button("Prepare a full export", key="closure_export"):
    def _export():
        with db.tenant_session(actor) as session:
            return privacy.business_export(session, actor=actor)

    export = ui.attempt(_export)
    if export:
        st.download_button("Download the export (ZIP)", data=export[1], file_name=export[0], mime="application/zip",
                           key="closure_download")
if not business.closure_requested_at:
    with st.form("closure_request"):
        confirm = st.text_input("Type the business's name to ask Kaimen to close it", key="closure_confirm")
        if st.form_submit_button("Ask Kaimen to close this business"):
            def _request():
                with db.tenant_session(actor) as session:
                    return privacy.request_closure(session, actor=actor, confirm_name=confirm)

            if ui.attempt(_request):
                ui.done_and_rerun("Closure requested. A Kaimen operator will carry it out.")
