"""Owners: the people who can sign in to the business; add and remove staff."""

import pandas as pd
import streamlit as st

from kaimen_core import auth, db, tenancy
from kaimen_core.validators import MIN_PASSWORD_LENGTH
from pages import _ui as ui

actor = ui.actor()
st.title("Team")
ui.show_done()

with db.tenant_session(actor) as session:
    users = auth.list_users(session, actor=actor)
    zone = tenancy.get_business(session, actor=actor).time_zone

st.dataframe(
    pd.DataFrame(
        {
            "Username": [u.username for u in users],
            "Name": [u.display_name for u in users],
            "Email": [u.email for u in users],
            "Role": [u.role for u in users],
            "Since": [ui.local_time(u.created_at, zone, "%Y-%m-%d") for u in users],
        }
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Add a staff member")
st.caption("Staff see customers, bookings and the inbox; not billing, settings or exports.")
with st.form("add_staff", clear_on_submit=True):
    left, right = st.columns(2)
    name = left.text_input("Name", key="staff_name")
    username = right.text_input("Username", key="staff_username")
    email = left.text_input("Email", key="staff_email")
    password = right.text_input("First password", type="password", key="staff_password",
                                help=f"At least {MIN_PASSWORD_LENGTH} characters; they can change it later")
    add = st.form_submit_button("Add staff member", type="primary")
if add:
    ui.act(actor, lambda: auth.add_staff_user(actor=actor, username=username, email=email, display_name=name,
                                              password=password),
           done=f"Added {username.strip().lower()}. They can sign in now.", session=False)

removable = [u for u in users if u.id != actor.user_id]
if removable:
    st.subheader("Remove someone")
    with st.form("remove_user"):
        choice = st.selectbox("User", removable, format_func=lambda u: f"{u.display_name} ({u.username}, {u.role})",
                              key="remove_choice")
        sure = st.checkbox("They will be signed out everywhere at once.", key="remove_confirm")
        remove = st.form_submit_button("Remove")
    if remove:
        if not sure:
            st.error("Tick the box to confirm the removal.")
        else:
            ui.act(actor, lambda s: auth.remove_user(s, actor=actor, user_id=choice.id),
                   done=f"Removed {choice.username}.")
