"""Owners: the business's name, country, time zone and contact number."""

import streamlit as st

from kaimen_core import db, tenancy
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
