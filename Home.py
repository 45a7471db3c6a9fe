"""Kaimen's entry file: signs the user in, builds the navigation for their role, draws
the sidebar once, and runs the chosen page.

Navigation is built on every run. Signed out, it lists only the sign-in and sign-up
pages, so a page's URL opened directly shows the sign-in page and nothing else.
"""

import streamlit as st

from kaimen_core.actors import Actor
from pages import _ui as ui


def signed_out_navigation():
    return st.navigation(
        [
            st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in", default=True),
            st.Page("pages/sign_up.py", title="Sign up", icon=":material/add_business:", url_path="sign-up"),
        ],
        position="hidden",
    )


def navigation_for(actor: Actor):
    """The pages the actor's role may use, and no others."""
    home = st.Page("pages/dashboard.py", title="Home", icon=":material/home:", url_path="home", default=True)
    account = st.Page("pages/account.py", title="Account", icon=":material/person:", url_path="account")
    audit_log = st.Page("pages/audit_log.py", title="Audit log", icon=":material/history:", url_path="audit-log")
    if actor.is_operator:
        businesses = st.Page("pages/businesses.py", title="Businesses", icon=":material/store:",
                             url_path="businesses")
        messaging_rules = st.Page("pages/messaging_rules.py", title="Messaging rules", icon=":material/rule:",
                                  url_path="messaging-rules")
        deletions = st.Page("pages/privacy_operations.py", title="Privacy deletions", icon=":material/delete_sweep:",
                            url_path="privacy-deletions")
        webhook_events = st.Page("pages/webhook_events.py", title="Webhook events", icon=":material/webhook:",
                                 url_path="webhook-events")
        return st.navigation({"Platform": [home, businesses, messaging_rules, deletions, webhook_events, audit_log],
                              "You": [account]})
    customers = st.Page("pages/customers.py", title="Customers", icon=":material/contacts:", url_path="customers")
    inbox = st.Page("pages/inbox.py", title="Inbox", icon=":material/sms:", url_path="inbox")
    calendar = st.Page("pages/calendar.py", title="Calendar", icon=":material/calendar_month:", url_path="calendar")
    if actor.role == "owner":
        team = st.Page("pages/team.py", title="Team", icon=":material/group:", url_path="team")
        staff_page = st.Page("pages/staff.py", title="Staff", icon=":material/badge:", url_path="staff")
        services_page = st.Page("pages/services.py", title="Services and hours", icon=":material/schedule:",
                                url_path="services")
        settings = st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings")
        customer_import = st.Page("pages/customer_import.py", title="Import customers", icon=":material/upload_file:",
                                  url_path="import-customers")
        messaging_settings = st.Page("pages/messaging_settings.py", title="Messaging", icon=":material/tune:",
                                     url_path="messaging-settings")
        privacy_page = st.Page("pages/privacy.py", title="Privacy requests", icon=":material/shield_person:",
                               url_path="privacy")
        return st.navigation({"Business": [home, calendar, customers, inbox],
                              "Manage": [team, staff_page, services_page, settings, messaging_settings,
                                         customer_import, privacy_page, audit_log],
                              "You": [account]}, expanded=True)
    return st.navigation({"Business": [home, calendar, customers, inbox], "You": [account]})


def sidebar(actor: Actor) -> None:
    with st.sidebar:
        st.caption("Kaimen operator" if actor.is_operator else f"{actor.role.title()} · {actor.username}")
        st.markdown(f"**{ui.plain(actor.display_name)}**")
        if st.button("Logout", key="Logout", icon=":material/logout:"):
            ui.sign_out()
            st.rerun()


st.set_page_config(page_title="Kaimen", page_icon=":material/storefront:", layout="wide")

with ui.entry():
    actor = ui.resolve_actor()
    ui.apply_cookie()
    if actor is None:
        signed_out_navigation().run()
    else:
        navigation = navigation_for(actor)
        sidebar(actor)
        navigation.run()
