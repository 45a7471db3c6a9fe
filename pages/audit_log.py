"""The audit log: owners see their business's events, operators every business's."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from kaimen_core import audit
from kaimen_core.exceptions import ValidationError
from kaimen_core.models import utcnow
from kaimen_core.validators import clean_id
from pages import _ui as ui

actor = ui.actor()
st.title("System events" if actor.is_operator else "Audit log")
st.caption("Who did what, when and from where. Passwords and customers' details are never recorded here.")

cols = st.columns(3)
days = cols[0].selectbox("Period", [1, 7, 30, 90, 365], index=2, format_func=lambda d: f"Last {d} days",
                         key="audit_days")
action = cols[1].text_input("Action", key="audit_action", placeholder="e.g. auth.sign_in_failed")
business_id = None
if actor.is_operator:
    raw = cols[2].text_input("Business id", key="audit_business", placeholder="all businesses")
    try:
        business_id = clean_id(raw, field="business_id", label="Business id")
    except ValidationError as exc:
        st.error(ui.plain(str(exc)))
        st.stop()

events = ui.act(actor, lambda s: audit.list_events(s, actor=actor, business_id=business_id,
                                                   action=action.strip() or None,
                                                   since=utcnow() - timedelta(days=days), limit=500))
if events is None:
    st.stop()
if not events:
    st.info("No events match.")
else:
    st.dataframe(
        pd.DataFrame(
            {
                "When (UTC)": [ui.local_time(e.created_at, "UTC", "%Y-%m-%d %H:%M:%S") for e in events],
                **({"Business": [e.business_id for e in events]} if actor.is_operator else {}),
                "Who": [e.actor_label for e in events],
                "Action": [e.action for e in events],
                "Target": [f"{e.target_type} {e.target_id}" if e.target_type else "" for e in events],
                "Detail": [", ".join(f"{k}={v}" for k, v in e.detail.items()) for e in events],
                "IP": [e.ip_address or "" for e in events],
                "Browser": [e.user_agent or "" for e in events],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(f"{len(events)} events (newest first, at most 500).")
