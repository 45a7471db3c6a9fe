"""Owners: the staff whose time is booked: details, services, photo, weekly hours, time off."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from kaimen_core import bookings, db, media, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Staff")
st.caption("The people customers book. To let someone sign in, add them on the Team page.")
ui.show_done()

with db.tenant_session(actor) as session:
    staff = bookings.list_staff(session, actor=actor)
    services = bookings.list_services(session, actor=actor)
    zone_name = tenancy.get_business(session, actor=actor).time_zone
    photos = {s.id: bookings.staff_photo(session, actor=actor, staff_id=s.id) for s in staff if s.has_photo}
service_names = {s.id: s.name for s in services}
zone = ZoneInfo(zone_name)
_CHECKED_PHOTO = "staff_checked_photo"  # the upload's cleaned photo, kept for its reruns (ui.checked_upload)

if staff:
    for row in range(0, len(staff), 4):
        for col, member in zip(st.columns(4), staff[row:row + 4], strict=False):
            with col.container(border=True):
                if photos.get(member.id):
                    st.image(photos[member.id], width=120)
                st.markdown(f"**{ui.plain(member.name)}**" + ("" if member.active else " (inactive)"))
                st.caption(ui.plain(", ".join(service_names.get(i, "?") for i in member.service_ids) or "No services"))
else:
    st.caption("No staff yet.")

with st.expander("Add a staff member", expanded=not staff):
    with st.form("new_staff", clear_on_submit=True):
        name = st.text_input("Name", key="new_staff_name")
        bio = st.text_area("Bio", key="new_staff_bio", max_chars=1000)
        chosen = st.multiselect("Services", [s.id for s in services], format_func=lambda i: service_names[i],
                                key="new_staff_services")
        add = st.form_submit_button("Add staff member", type="primary")
    if add:
        ui.act(actor, lambda s: bookings.create_staff(s, actor=actor, name=name, bio=bio, service_ids=chosen),
               done=f"Added {name.strip()}. They work the opening hours until you give them their own.")

if not staff:
    st.stop()

st.subheader("Change a staff member")
staff_by_id = {s.id: s for s in staff}
# Options are ids, not the rows: a selectbox hands back the value it stored, which would go stale.
member = staff_by_id[st.selectbox("Staff member", list(staff_by_id), format_func=lambda i: staff_by_id[i].name,
                                  key="staff_choice")]
details, photo_tab, hours_tab, off_tab = st.tabs(["Details", "Photo", "Weekly hours", "Time off"])

with details:
    with st.form(f"staff_details_{member.id}"):
        name = st.text_input("Name", value=member.name, key=f"staff_name_{member.id}")
        bio = st.text_area("Bio", value=member.bio or "", key=f"staff_bio_{member.id}", max_chars=1000)
        chosen = st.multiselect("Services", [s.id for s in services], format_func=lambda i: service_names[i],
                                key=f"staff_svc_{member.id}", default=[i for i in member.service_ids])
        active = st.checkbox("Taking bookings", value=member.active, key=f"staff_active_{member.id}")
        save = st.form_submit_button("Save", type="primary")
    if save:
        ui.act(actor, lambda s: bookings.update_staff(s, actor=actor, staff_id=member.id, name=name, bio=bio,
                                                      active=active, service_ids=chosen),
               done=f"Saved {name.strip()}.")

with photo_tab:
    current = photos.get(member.id)
    if current:
        st.image(current, caption="Current photo", width=200)
    st.caption("A JPEG, PNG or WebP photo under 5 MB. It is re-encoded without its metadata (such as location).")
    upload = st.file_uploader("New photo", type=["jpg", "jpeg", "png", "webp"], key=f"staff_upload_{member.id}",
                              max_upload_size=media.MAX_BYTES // (1024 * 1024))  # the browser refuses more
    if upload is None:
        ui.forget(_CHECKED_PHOTO)
    # Decoding a large photo takes seconds and hundreds of megabytes: once per upload, and
    # "Use this photo" stores the CleanImage kept, without decoding the upload again.
    checked = ui.checked_upload(upload, _CHECKED_PHOTO, media.clean_photo) if upload is not None else None
    if checked is not None:
        st.image(checked.data, caption=f"Preview ({checked.width}×{checked.height}, metadata removed)", width=200)
        if st.button("Use this photo", type="primary", key=f"staff_use_photo_{member.id}"):
            ui.act(actor, lambda s: bookings.set_staff_photo(s, actor=actor, staff_id=member.id, data=checked),
                   done=f"Photo saved for {member.name}.")
    if member.has_photo and st.button("Remove photo", key=f"staff_remove_photo_{member.id}"):
        ui.act(actor, lambda s: bookings.remove_staff_photo(s, actor=actor, staff_id=member.id), done="Photo removed.")

with hours_tab:
    with db.tenant_session(actor) as session:
        own = bookings.staff_hours(session, actor=actor, staff_id=member.id)
    by_day = {span.weekday: span for span in own}
    st.caption(f"Wall-clock times in {zone_name}. Bookings also need the business to be open.")
    with st.form(f"staff_hours_{member.id}"):
        follow = st.checkbox("Works whenever the business is open", value=not own, key=f"staff_follow_{member.id}")
        spans = []
        for weekday, label in enumerate(bookings.WEEKDAYS):
            span = by_day.get(weekday)
            a, b, c = st.columns(3)
            works = a.checkbox(label, value=span is not None, key=f"staff_day_{member.id}_{weekday}")
            starts = b.time_input("From", value=time(span.start // 60, span.start % 60) if span else time(9),
                                  key=f"staff_from_{member.id}_{weekday}", step=900, label_visibility="collapsed")
            ends = c.time_input("To", value=time(span.end // 60 % 24, span.end % 60) if span else time(17),
                                key=f"staff_to_{member.id}_{weekday}", step=900, label_visibility="collapsed")
            if works:
                spans.append(bookings.Span.of(weekday, starts, ends))
        save_hours = st.form_submit_button("Save weekly hours", type="primary")
    if save_hours:
        chosen_spans = [] if follow else spans
        if not follow and not spans:
            st.error("Tick at least one day, or choose 'Works whenever the business is open'.")
        else:
            ui.act(actor, lambda s: bookings.set_staff_hours(s, actor=actor, staff_id=member.id, spans=chosen_spans),
                   done="Weekly hours saved.")

with off_tab:
    with db.tenant_session(actor) as session:
        off = bookings.list_time_off(session, actor=actor, staff_id=member.id,
                                     since=datetime.now(zone) - timedelta(days=1))
    for span in off:
        a, b = st.columns([4, 1])
        a.markdown(f"{ui.local_time(span.starts_at, zone_name)} – {ui.local_time(span.ends_at, zone_name)}"
                   + (f" · {ui.plain(span.reason)}" if span.reason else ""))
        if b.button("Remove", key=f"off_remove_{span.id}"):
            ui.act(actor, lambda s, i=span.id: bookings.remove_time_off(s, actor=actor, time_off_id=i),
                   done="Time off removed.")
    if not off:
        st.caption("No time off coming up.")
    with st.form(f"time_off_{member.id}", clear_on_submit=True):
        a, b, c, d = st.columns(4)
        first = a.date_input("From", key=f"off_from_day_{member.id}")
        first_time = b.time_input("at", value=time(0), key=f"off_from_time_{member.id}", step=900)
        last = c.date_input("Until", key=f"off_to_day_{member.id}")
        last_time = d.time_input("at", value=time(23, 45), key=f"off_to_time_{member.id}", step=900)
        reason = st.text_input("Reason (optional)", key=f"off_reason_{member.id}", max_chars=100)
        add_off = st.form_submit_button("Add time off")
    if add_off:
        starts = datetime.combine(first, first_time, tzinfo=zone)
        ends = datetime.combine(last, last_time, tzinfo=zone)
        ui.act(actor, lambda s: bookings.add_time_off(s, actor=actor, staff_id=member.id, starts_at=starts,
                                                      ends_at=ends, reason=reason),
               done="Time off added.")
