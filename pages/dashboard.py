"""Home: the business's figures and recent activity, or the platform's for operators."""

import pandas as pd
import streamlit as st

from kaimen_core import bookings, dashboard, db
from pages import _ui as ui

actor = ui.actor()


def _activity_table(events, zone: str) -> None:
    if not events:
        st.caption("No activity yet.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "When": [ui.local_time(e.created_at, zone) for e in events],
                "Who": [e.actor_label for e in events],
                "What": [e.action for e in events],
            }
        ),
        hide_index=True,
        width="stretch",
    )


if actor.is_operator:
    with db.tenant_session(actor) as session:
        platform = dashboard.platform_overview(session, actor=actor)
    st.title("Platform overview")
    cols = st.columns(5)
    cols[0].metric("Active businesses", platform.businesses_by_status["active"])
    cols[1].metric("Suspended", platform.businesses_by_status["suspended"])
    cols[2].metric("Terminated", platform.businesses_by_status["terminated"])
    cols[3].metric("Users", platform.users)
    cols[4].metric("Failed sign-ins (24 h)", platform.failed_sign_ins_24h)
    st.caption(f"{platform.active_sessions} signed-in sessions right now.")
    st.subheader("Recent system events")
    _activity_table(platform.recent_activity, "UTC")
else:
    with db.tenant_session(actor) as session:
        overview = dashboard.business_overview(session, actor=actor)
    st.title(ui.plain(overview.business_name))
    st.caption(f"Signed in as {ui.plain(actor.display_name)} · times shown in {overview.time_zone}")
    for warning in overview.warnings:
        when = ui.local_time(warning.created_at, overview.time_zone)
        st.warning(f"Warning from Kaimen ({when}): {ui.plain(warning.reason)}")
    cols = st.columns(4)
    cols[0].metric("Customers", overview.customers)
    cols[1].metric("Upcoming bookings", overview.upcoming_bookings)
    cols[2].metric("Texts, last 30 days", overview.messages_last_30_days)
    cols[3].metric("Open privacy requests", overview.open_privacy_requests)
    with db.tenant_session(actor) as session:
        figures = bookings.dashboard_figures(session, actor=actor)
    st.subheader("Bookings")
    weeks = [f"{monday:%Y-%m-%d}" for monday in figures.weeks]
    left, middle, right = st.columns(3)
    with left:
        st.caption("Bookings per week (not cancelled)")
        st.bar_chart(pd.DataFrame({"Week of": weeks, "Bookings": figures.bookings_per_week}), x="Week of",
                     y="Bookings", height=220)
    with middle:
        st.caption("No-show rate (of appointments that happened)")
        st.line_chart(pd.DataFrame({"Week of": weeks, "No-show rate": [
            None if rate is None else rate * 100 for rate in figures.no_show_rate]}), x="Week of", y="No-show rate",
            y_label="%", height=220)
    with right:
        st.caption(f"Utilisation by staff, last {figures.utilisation_days} days")
        if figures.utilisation:
            st.bar_chart(pd.DataFrame({"Staff": list(figures.utilisation),
                                       "Booked %": [v * 100 for v in figures.utilisation.values()]}),
                         x="Staff", y="Booked %", height=220)
        else:
            st.caption("No staff yet.")
    if actor.role == "owner":
        st.subheader("Recent activity")
        _activity_table(overview.recent_activity, overview.time_zone)
