"""Your account: who you are signed in as, and changing your password."""

import streamlit as st

from kaimen_core import auth
from kaimen_core.validators import MIN_PASSWORD_LENGTH
from pages import _ui as ui

actor = ui.actor()
st.title("Account")
st.write(f"Signed in as **{ui.plain(actor.display_name)}** (`{actor.username}`), {actor.role}.")

st.subheader("Change password")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="current_password")
    new = st.text_input("New password", type="password", key="new_password",
                        help=f"At least {MIN_PASSWORD_LENGTH} characters")
    confirm = st.text_input("Repeat new password", type="password", key="confirm_new_password")
    change = st.form_submit_button("Change password", type="primary")

if change:
    revoked = ui.act(actor, lambda s: auth.change_password(s, actor=actor, current_password=current, new_password=new,
                                                           confirm_password=confirm))
    if revoked is not None:
        others = f" {revoked} other session(s) were signed out." if revoked else ""
        st.success("Password changed." + others)
