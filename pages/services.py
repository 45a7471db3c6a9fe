"""Owners: the services the business sells, and its opening hours."""

from datetime import time

import pandas as pd
import streamlit as st

from kaimen_core import bookings, db, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Services and hours")
ui.show_done()

with db.tenant_session(actor) as session:
    services = bookings.list_services(session, actor=actor)
    staff = {s.id: s.name for s in bookings.list_staff(session, actor=actor)}
    hours = bookings.business_hours(session, actor=actor)
    zone = tenancy.get_business(session, actor=actor).time_zone

st.subheader("Services")
if services:
    st.dataframe(pd.DataFrame({
        "Service": [s.name for s in services],
        "Minutes": [s.duration_minutes for s in services],
        "Buffer after": [s.buffer_minutes for s in services],
        "Price": [s.price for s in services],
        "Active": [s.active for s in services],
        "Staff": [", ".join(staff.get(i, "?") for i in s.staff_ids) for s in services],
    }), hide_index=True, width="stretch")
else:
    st.caption("No services yet.")


def service_form(key: str, current: bookings.ServiceView | None) -> dict | None:
    with st.form(key, clear_on_submit=current is None):
        name = st.text_input("Name", value=current.name if current else "", key=f"{key}_name")
        a, b, c, d = st.columns(4)
        duration = a.number_input("Minutes", 5, 720, current.duration_minutes if current else 60, 5,
                                  key=f"{key}_duration")
        buffer = b.number_input("Buffer after (minutes)", 0, 240, current.buffer_minutes if current else 0, 5,
                                key=f"{key}_buffer", help="Time to tidy up before the next appointment")
        price = c.number_input("Price", 0.0, 100000.0, (current.price_cents / 100) if current else 0.0, 1.0,
                               key=f"{key}_price", format="%.2f")
        currency = d.text_input("Currency", value=current.currency if current else "USD", max_chars=3,
                                key=f"{key}_currency")
        active = st.checkbox("Offered (bookable)", value=current.active if current else True, key=f"{key}_active")
        if st.form_submit_button("Save service" if current else "Add service", type="primary"):
            return {"name": name, "duration_minutes": int(duration), "buffer_minutes": int(buffer),
                    "price_cents": round(price * 100), "currency": currency, "active": active}
    return None


with st.expander("Add a service", expanded=not services):
    values = service_form("new_service", None)
    if values:
        ui.act(actor, lambda s: bookings.create_service(s, actor=actor, **values),
               done=f"Added {values['name'].strip()}. Choose who performs it on the Staff page.")

if services:
    with st.expander("Change a service"):
        by_id = {s.id: s for s in services}
        chosen = by_id[st.selectbox("Service", list(by_id), format_func=lambda i: by_id[i].name,
                                    key="edit_service_choice")]
        values = service_form(f"edit_service_{chosen.id}", chosen)
        if values:
            ui.act(actor, lambda s: bookings.update_service(s, actor=actor, service_id=chosen.id, **values),
                   done=f"Saved {values['name'].strip()}.")

st.subheader("Opening hours")
st.caption(f"Wall-clock times in {zone} (change the zone in Settings). A closed day has no bookings.")
by_day = {span.weekday: span for span in hours}
with st.form("business_hours"):
    spans = []
    for weekday, label in enumerate(bookings.WEEKDAYS):
        span = by_day.get(weekday)
        a, b, c = st.columns([1, 1, 1])
        is_open = a.checkbox(label, value=span is not None, key=f"hours_open_{weekday}")
        opens = b.time_input("Opens", value=time(span.start // 60, span.start % 60) if span else time(9),
                             key=f"hours_from_{weekday}", step=900, label_visibility="collapsed")
        closes = c.time_input("Closes", value=time(span.end // 60 % 24, span.end % 60) if span else time(17),
                              key=f"hours_to_{weekday}", step=900, label_visibility="collapsed")
        if is_open:
            spans.append(bookings.Span.of(weekday, opens, closes))
    save_hours = st.form_submit_button("Save opening hours", type="primary")
if save_hours:
    ui.act(actor, lambda s: bookings.set_business_hours(s, actor=actor, spans=spans), done="Opening hours saved.")
