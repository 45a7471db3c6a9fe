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
    ui.act(actor, lambda s: messaging.update_messaging_settings(s, actor=actor, reminder_24h=remind_24h,
                                                                reminder_2h=remind_2h, templates=edited),
           done="Messaging settings saved.")

st.subheader("Your own Twilio account")
with db.tenant_session(actor) as session:
    account = messaging.get_twilio_account(session, actor=actor)
if account.connected and not account.readable:
    st.error(f"Texts would go through {account.account_sid}, but its auth token can no longer be read (Kaimen's "
             "secrets key changed). Enter the token again.")
elif account.connected:
    st.success(f"Texts go through your Twilio account {account.account_sid} (auth token set, ending in "
               f"…{account.token_ending}).")
else:
    st.caption("Texts go through Kaimen's Twilio account. To use your own account or subaccount, move your "
               "number into it first, then enter its Account SID and Auth Token here: from then on Kaimen "
               "sends through it and accepts webhooks for your number only when that account signed them.")
with st.form("twilio_account"):
    sid = st.text_input("Account SID", value=account.account_sid or "", key="twilio_account_sid",
                        placeholder="AC…", max_chars=34)
    token = st.text_input("Auth Token", type="password", key="twilio_auth_token", max_chars=64,
                          help="Stored encrypted and never shown again.")
    connect = st.form_submit_button("Save Twilio account")
if connect:
    ui.forget("twilio_auth_token")  # the token never outlives this run, saved or refused
    ui.act(actor, lambda s: messaging.set_twilio_account(s, actor=actor, account_sid=sid, auth_token=token),
           done="Twilio account saved.")
if account.connected and st.button("Disconnect Twilio account", key="twilio_account_remove"):
    ui.act(actor, lambda s: messaging.remove_twilio_account(s, actor=actor), forget=["twilio_account_sid"],
           done="Twilio account disconnected: texts go through Kaimen's account again.")
