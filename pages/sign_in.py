"""Sign in with a username (or email) and password."""

import streamlit as st

from kaimen_core import auth
from kaimen_core.exceptions import KaimenError
from pages import _ui as ui

ui.require_entry()

st.title("Kaimen")
notice = ui.take_notice()
if notice:
    st.info(ui.plain(notice))

with st.form("Login"):
    st.subheader("Login")
    username = st.text_input("Username", key="login_username", placeholder="username or email")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Login", type="primary")

if submitted and not (username.strip() and password):
    st.error("Enter your username (or email) and your password.")
elif submitted:
    try:
        signed_in = auth.sign_in(username=username, password=password, origin=ui.origin())
    except KaimenError as exc:  # wrong password, locked, too many attempts
        st.error(ui.plain(str(exc)))  # a message may quote what was typed
    else:
        ui.remember_sign_in(signed_in)
        st.rerun()

st.page_link(
    "pages/sign_up.py", label="New to Kaimen? Create an account for your business", icon=":material/add_business:"
)
