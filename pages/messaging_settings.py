"""Owners: booking reminders and the templates texts are made from; the limits operators set."""

import streamlit as st

from kaimen_core import db, messaging
from pages import _ui as ui

actor = ui.actor()
st.title("Messaging")
ui.show_done()

with db.tenant_session(actor) as session:
    current = messaging.get_messaging_settings(session, actor=actor)

st.caption(f"Limits set by Kaimen for your carrier registration: {current.rate_per_minute} texts a minute, "
           f"{current.daily_cap} in any 24 hours. Automated texts wait for 08:00–21:00 in the customer's time "
           "(20:00 in Florida and Oklahoma).")

with st.form("messaging_settings"):
    st.subheader("Reminders")
    remind_24h = st.checkbox("Remind customers 24 hours before", value=current.reminder_24h, key="reminder_24h")
    remind_2h = st.checkbox("Also remind them 2 hours before", value=current.reminder_2h, key="reminder_2h")
    st.subheader("Templates")
    st.caption("Placeholders: " + ", ".join("{" + p + "}" for p in messaging.PLACEHOLDERS)
               + ". Times are shown in your business's time zone.")
    edited = {name: st.text_area(name.replace("_", " ").capitalize(), value=text, key=f"template_{name}",
                                 max_chars=480)
              for name, text in current.templates.items()}
    save = st.form_submit_button("Save", type="primary")
if save:
    def _save():
        with db.tenant_session(actor) as session:
            return messaging.update_messaging_settings(session, actor=actor, reminder_24h=remind_24h,
                                                       reminder_2h=remind_2h, templates=edited)

    if ui.attempt(_save):
        ui.done_and_rerun("Messaging settings saved.")
