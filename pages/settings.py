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
    ui.act(actor, lambda s: tenancy.update_business(
        s, actor=actor, changes=BusinessUpdate(name=name, region=region, time_zone=zone, phone=phone)), done="Saved.")

st.subheader("Close this business")
if business.closure_requested_at:
    asked = ui.local_time(business.closure_requested_at, business.time_zone)
    st.warning(f"You asked Kaimen to close this business on {asked}. A Kaimen operator will erase all of its "
               "data, including texts held by the SMS provider.")
    if st.button("Withdraw the request", key="closure_cancel"):
        ui.act(actor, lambda s: privacy.cancel_closure(s, actor=actor), done="Closure request withdrawn.")
st.caption("Download everything first: closing erases the customers, bookings, texts, staff and history for good.")
if st.button("Prepare a full export", key="closure_export"):
    export = ui.act(actor, lambda s: privacy.business_export(s, actor=actor))
    if export:
        st.download_button("Download the export (ZIP)", data=export[1], file_name=export[0], mime="application/zip",
                           key="closure_download")
if not business.closure_requested_at:
    with st.form("closure_request"):
        confirm = st.text_input("Type the business's name to ask Kaimen to close it", key="closure_confirm")
        if st.form_submit_button("Ask Kaimen to close this business"):
            ui.act(actor, lambda s: privacy.request_closure(s, actor=actor, confirm_name=confirm),
                   done="Closure requested. A Kaimen operator will carry it out.")
