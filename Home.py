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
        return st.navigation({"Platform": [home, businesses, audit_log], "You": [account]})
    if actor.role == "owner":
        team = st.Page("pages/team.py", title="Team", icon=":material/group:", url_path="team")
        settings = st.Page("pages/settings.py", title="Settings", icon=":material/settings:", url_path="settings")
        return st.navigation({"Business": [home], "Manage": [team, settings, audit_log], "You": [account]})
    return st.navigation({"Business": [home], "You": [account]})


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
