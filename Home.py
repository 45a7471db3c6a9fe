"""Kaimen's entry file: signs the user in, builds the navigation for their role from
MENU, draws the sidebar once, and runs the chosen page.

Navigation is built on every run. Signed out, it lists only the sign-in and sign-up
pages, so a page's URL opened directly shows the sign-in page and nothing else. An
unexpected error in a page is logged, masked, and the person sees a notice instead
(``ui.failures_logged``; .streamlit/config.toml shows no error details either).
"""

from dataclasses import dataclass

import streamlit as st

from kaimen_core.actors import Actor
from pages import _ui as ui

VISITOR = "visitor"  # nobody signed in; the other roles are the signed-in user's


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """One page of the app and the menu section each role finds it under.

    A role missing from ``sections`` never sees the page, and cannot open it by its URL
    either: the navigation is the list of pages Streamlit will run.
    """

    path: str
    title: str
    icon: str
    url_path: str
    sections: dict[str, str]  # role -> section
    default: bool = False  # the page a role lands on (one per role)


SIGNED_OUT = {VISITOR: ""}
BUSINESS = {"owner": "Business", "staff": "Business"}
MANAGE = {"owner": "Manage"}
PLATFORM = {"operator": "Platform"}
YOU = {"owner": "You", "staff": "You", "operator": "You"}

#: Every page, in menu order; each role's sections come in the order of their first page.
MENU = [
    MenuEntry("pages/sign_in.py", "Sign in", ":material/login:", "sign-in", SIGNED_OUT, default=True),
    MenuEntry("pages/sign_up.py", "Sign up", ":material/add_business:", "sign-up", SIGNED_OUT),
    MenuEntry("pages/dashboard.py", "Home", ":material/home:", "home", BUSINESS | PLATFORM, default=True),
    MenuEntry("pages/calendar.py", "Calendar", ":material/calendar_month:", "calendar", BUSINESS),
    MenuEntry("pages/customers.py", "Customers", ":material/contacts:", "customers", BUSINESS),
    MenuEntry("pages/inbox.py", "Inbox", ":material/sms:", "inbox", BUSINESS),
    MenuEntry("pages/team.py", "Team", ":material/group:", "team", MANAGE),
    MenuEntry("pages/staff.py", "Staff", ":material/badge:", "staff", MANAGE),
    MenuEntry("pages/services.py", "Services and hours", ":material/schedule:", "services", MANAGE),
    MenuEntry("pages/settings.py", "Settings", ":material/settings:", "settings", MANAGE),
    MenuEntry("pages/messaging_settings.py", "Messaging", ":material/tune:", "messaging-settings", MANAGE),
    MenuEntry("pages/customer_import.py", "Import customers", ":material/upload_file:", "import-customers", MANAGE),
    MenuEntry("pages/privacy.py", "Privacy requests", ":material/shield_person:", "privacy", MANAGE),
    MenuEntry("pages/businesses.py", "Businesses", ":material/store:", "businesses", PLATFORM),
    MenuEntry("pages/messaging_rules.py", "Messaging rules", ":material/rule:", "messaging-rules", PLATFORM),
    MenuEntry("pages/privacy_operations.py", "Privacy deletions", ":material/delete_sweep:", "privacy-deletions",
              PLATFORM),
    MenuEntry("pages/webhook_events.py", "Webhook events", ":material/webhook:", "webhook-events", PLATFORM),
    MenuEntry("pages/audit_log.py", "Audit log", ":material/history:", "audit-log", MANAGE | PLATFORM),
    MenuEntry("pages/account.py", "Account", ":material/person:", "account", YOU),
]


def navigation_for(role: str):
    """The pages ``role`` may use, and no others, grouped in their sections."""
    sections: dict[str, list[st.Page]] = {}
    for entry in MENU:
        if role in entry.sections:
            page = st.Page(entry.path, title=entry.title, icon=entry.icon, url_path=entry.url_path,
                           default=entry.default)
            sections.setdefault(entry.sections[role], []).append(page)
    if role == VISITOR:  # no menu: the two pages link to each other
        return st.navigation(sections[""], position="hidden")
    # Expanded: an owner's thirteen pages would otherwise fold behind "View more".
    return st.navigation(sections, expanded=True)


def sidebar(actor: Actor) -> None:
    with st.sidebar:
        st.caption("Kaimen operator" if actor.is_operator else f"{actor.role.title()} · {ui.plain(actor.username)}")
        st.markdown(f"**{ui.plain(actor.display_name)}**")
        if st.button("Logout", key="Logout", icon=":material/logout:"):
            ui.sign_out()
            st.rerun()


st.set_page_config(page_title="Kaimen", page_icon=":material/storefront:", layout="wide")

with ui.entry(), ui.failures_logged():
    actor = ui.resolve_actor()
    ui.apply_cookie()
    if actor is None:
        navigation_for(VISITOR).run()
    else:
        navigation = navigation_for(actor.role)
        sidebar(actor)
        navigation.run()
