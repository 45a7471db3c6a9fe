"""Create a business and its owner account."""

import streamlit as st

from kaimen_core import tenancy
from kaimen_core.exceptions import KaimenError
from kaimen_core.validators import MIN_PASSWORD_LENGTH, region_choices, time_zone_choices
from pages import _ui as ui

ui.require_entry()

st.title("Create your Kaimen account")
st.caption("One account per business. You become its owner and can add your staff afterwards. "
           "You sign in with your email address and password.")

zones = time_zone_choices()
regions = region_choices()

with st.form("sign_up"):
    business_name = st.text_input("Business name", key="signup_business_name")
    owner_name = st.text_input("Your name", key="signup_owner_name")
    email = st.text_input("Email", key="signup_email")
    left, right = st.columns(2)
    region = left.selectbox("Country", regions, index=regions.index("US"), key="signup_region")
    time_zone = right.selectbox("Time zone", zones, index=zones.index("America/New_York"), key="signup_time_zone")
    phone = st.text_input("Business phone", key="signup_phone", placeholder="(212) 555-0142")
    password = st.text_input("Password", type="password", key="signup_password",
                             help=f"At least {MIN_PASSWORD_LENGTH} characters")
    confirm = st.text_input("Repeat password", type="password", key="signup_confirm")
    submitted = st.form_submit_button("Create account", type="primary")

if submitted:
    try:
        signed_in = tenancy.sign_up(
            business_name=business_name, owner_name=owner_name, email=email,
            phone=phone, region=region, time_zone=time_zone, password=password,
            confirm_password=confirm, origin=ui.origin(),
        )
    except KaimenError as exc:
        st.error(ui.plain(str(exc)))  # a message may quote what was typed
    else:
        ui.remember_sign_in(signed_in)
        st.rerun()

st.page_link("pages/sign_in.py", label="Already have an account? Sign in", icon=":material/login:")
