"""Calendar: the day (every staff member) or the week (one staff member) as a grid, a
filterable list, booking from a free slot, and rescheduling, cancelling, completing or
marking a no-show from a booking. Owners and staff."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from kaimen_core import bookings, db, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Calendar")
ui.show_done()

with db.tenant_session(actor) as session:
    zone_name = tenancy.get_business(session, actor=actor).time_zone
    staff = bookings.list_staff(session, actor=actor, include_inactive=False)
    services = bookings.list_services(session, actor=actor, include_inactive=False)
    customers = bookings.customer_choices(session, actor=actor)
zone = ZoneInfo(zone_name)
today = datetime.now(zone).date()
st.caption(f"Times in {zone_name}.")
if not staff or not services:
    st.info("Add services, staff and business hours before taking bookings."
            if actor.role == "owner" else "Your business has no staff or services to book yet.")
    st.stop()
staff_names = {s.id: s.name for s in staff}
service_by_id = {s.id: s for s in services}
# Selectboxes offer ids, never rows: a selectbox hands back the value it stored, which would go stale.


def when(moment: datetime, fmt: str = "%a %d %b %H:%M") -> str:
    return ui.local_time(moment, zone_name, fmt)


def free_slots(service_id: int, staff_id: int | None, day) -> list[bookings.Slot] | None:
    return ui.act(actor, lambda s: bookings.free_slots(s, actor=actor, service_id=service_id, staff_id=staff_id,
                                                       start_date=day, end_date=day))


def slot_label(slot: bookings.Slot) -> str:
    return f"{when(slot.start_at, '%H:%M')}–{when(slot.end_at, '%H:%M')} · {slot.staff_name}"


def slot_select(label: str, slots: list[bookings.Slot], key: str, staff_ids: set[int]) -> tuple[datetime, int]:
    """Choose a free slot; returns (start, staff id).

    Options are stable strings. If the slot chosen on the last run was taken meanwhile, it
    stays in the list marked as such, so pressing the button reports the clash instead of
    silently booking the next time in the list.
    """
    by_key = {f"{s.start_at.isoformat()}|{s.staff_id}": s for s in slots}
    options = list(by_key)
    previous = st.session_state.get(key)
    if isinstance(previous, str) and previous not in by_key and "|" in previous:
        start_text, staff_text = previous.split("|", 1)
        if staff_text.isdigit() and int(staff_text) in staff_ids and slots and \
                when(datetime.fromisoformat(start_text), "%Y-%m-%d") == when(slots[0].start_at, "%Y-%m-%d"):
            options.insert(0, previous)

    def show(option: str) -> str:
        if option in by_key:
            return slot_label(by_key[option])
        start_text, staff_text = option.split("|", 1)
        return f"{when(datetime.fromisoformat(start_text), '%H:%M')} · {staff_names.get(int(staff_text), '?')}" \
               " (no longer free)"

    chosen = st.selectbox(label, options, format_func=show, key=key)
    start_text, staff_text = chosen.split("|", 1)
    return datetime.fromisoformat(start_text), int(staff_text)


def booking_panel(booking: bookings.BookingView, key: str) -> None:
    """One booking: what it is, and what can be done with it."""
    with st.container(border=True):
        st.markdown(
            f"**{ui.plain(booking.service_name or 'Service')}** with **{ui.plain(booking.staff_name)}** for "
            f"**{ui.plain(booking.customer_name or 'a walk-in')}**  \n"
            f"{when(booking.start_at)}–{when(booking.end_at, '%H:%M')} · {booking.status.replace('_', '-')}"
        )
        if booking.notes:
            st.caption(ui.plain(booking.notes))
        if booking.status != "booked":
            return
        started = booking.start_at <= datetime.now(zone)
        cols = st.columns(3)
        if cols[0].button("Cancel booking", key=f"{key}_cancel"):
            ui.act(actor, lambda s: bookings.cancel_booking(s, actor=actor, booking_id=booking.id),
                   done="Booking cancelled; the time is free again.")
        if cols[1].button("Completed", key=f"{key}_complete", disabled=not started):
            ui.act(actor, lambda s: bookings.complete_booking(s, actor=actor, booking_id=booking.id),
                   done="Marked completed.")
        if cols[2].button("No-show", key=f"{key}_no_show", disabled=not started):
            ui.act(actor, lambda s: bookings.mark_no_show(s, actor=actor, booking_id=booking.id),
                   done="Marked as a no-show.")
        if booking.service_id is None:
            return
        st.markdown("**Reschedule**")
        left, right = st.columns(2)
        day = left.date_input("New date", value=max(today, booking.start_at.astimezone(zone).date()),
                              key=f"{key}_move_day_{booking.id}")
        who = right.selectbox("With", [None, *staff_names], key=f"{key}_move_staff_{booking.id}",
                              format_func=lambda i: f"{booking.staff_name} (same)" if i is None else staff_names[i])
        slots = free_slots(booking.service_id, who if who else booking.staff_id, day) or []
        if not slots:
            st.caption("No free time that day.")
            return
        move_key = f"{key}_move_slot_{booking.id}_{who}_{day.isoformat()}"
        with st.form(f"{key}_move_form"):
            start, staff_id = slot_select("New time", slots, move_key, set(staff_names))
            if st.form_submit_button("Move booking"):
                ui.act(actor, lambda s: bookings.reschedule_booking(s, actor=actor, booking_id=booking.id,
                                                                    start_at=start, staff_id=staff_id),
                       done=f"Moved to {when(start)} with {staff_names.get(staff_id, '')}.",
                       forget=[move_key])


def pick_booking(found: list[bookings.BookingView], key: str) -> None:
    if not found:
        return
    by_id = {b.id: b for b in found}
    chosen = st.selectbox("Open a booking", [None, *by_id], key=key,
                          format_func=lambda i: "Choose…" if i is None else
                          f"{when(by_id[i].start_at)} · {by_id[i].staff_name} · {by_id[i].customer_name or 'walk-in'}")
    if chosen in by_id:
        booking_panel(by_id[chosen], key)


grid_tab, list_tab, book_tab = st.tabs(["Grid", "List", "Book"])

with grid_tab:
    left, middle, right = st.columns([1, 1, 2])
    view = left.radio("View", ["Day", "Week"], horizontal=True, key="cal_view")
    day = middle.date_input("Date", value=today, key="cal_day")
    if view == "Day":
        with db.tenant_session(actor) as session:
            grid = bookings.day_grid(session, actor=actor, day=day)
        st.subheader(f"{day:%A} {day.day} {day:%B %Y}")
    else:
        member = right.selectbox("Staff member", list(staff_names), format_func=staff_names.get, key="cal_week_staff")
        with db.tenant_session(actor) as session:
            grid = bookings.week_grid(session, actor=actor, staff_id=member, week_of=day)
        st.subheader(f"{ui.plain(staff_names[member])}, week of {day - timedelta(days=day.weekday()):%d %b %Y}")
    if grid.times:
        st.dataframe(pd.DataFrame(grid.cells, columns=grid.columns, index=grid.times), width="stretch",
                     height=min(38 + 35 * len(grid.times), 700))
        st.caption("· working and free · │ the booking above continues · ✓ completed · ✗ no-show")
    else:
        st.caption("Nobody works then.")
    pick_booking(grid.bookings, "grid_booking")

with list_tab:
    a, b, c, d = st.columns(4)
    first = a.date_input("From", value=today, key="list_from")
    last = b.date_input("To", value=today + timedelta(days=7), key="list_to")
    who = c.selectbox("Staff", [None, *staff_names], format_func=lambda i: "Everyone" if i is None else staff_names[i],
                      key="list_staff")
    status = d.selectbox("Status", [None, "booked", "completed", "no_show", "cancelled"],
                         format_func=lambda s: "Any" if s is None else s.replace("_", "-"), key="list_status")

    listed = ui.act(actor, lambda s: bookings.list_bookings(
        s, actor=actor, staff_id=who, status=status, start_at=datetime.combine(first, time(0), tzinfo=zone),
        end_at=datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone))) or []
    if listed:
        st.dataframe(pd.DataFrame({
            "When": [when(x.start_at) for x in listed],
            "Until": [when(x.end_at, "%H:%M") for x in listed],
            "Staff": [x.staff_name for x in listed],
            "Service": [x.service_name or "" for x in listed],
            "Customer": [x.customer_name or "walk-in" for x in listed],
            "Status": [x.status.replace("_", "-") for x in listed],
        }), hide_index=True, width="stretch")
    else:
        st.caption("No bookings match.")
    pick_booking(listed, "list_booking")

with book_tab:
    if st.session_state.get("cal_last_booked"):
        st.success(st.session_state["cal_last_booked"])
    a, b, c = st.columns(3)
    service = service_by_id[a.selectbox(
        "Service", list(service_by_id), key="book_service",
        format_func=lambda i: f"{service_by_id[i].name} ({service_by_id[i].duration_minutes} min, "
                              f"{service_by_id[i].price})")]
    performers = [s.id for s in staff if s.id in service.staff_ids]
    with_whom = b.selectbox("Staff", [None, *performers], key="book_staff",
                            format_func=lambda i: "Anyone" if i is None else staff_names[i])
    book_day = c.date_input("Day", value=today, min_value=today, key="book_day")
    slots = free_slots(service.id, with_whom, book_day) if performers else []
    if not performers:
        st.info("Nobody performs this service yet.")
    elif not slots:
        st.caption("No free time that day; try another day.")
    else:
        with st.container(border=True):
            st.caption(f"{len(slots)} free times on {book_day:%a} {book_day.day} {book_day:%b}")
            slot_key = f"book_slot_{service.id}_{with_whom}_{book_day.isoformat()}"  # one choice per service/day
            start, staff_id = slot_select("Free times", slots, slot_key,
                                          set(performers) if with_whom is None else {with_whom})
            customer = st.selectbox("Customer", [None, *customers], key="book_customer",
                                    format_func=lambda c: "Walk-in (no customer record)" if c is None else c[1])
            notes = st.text_input("Notes", key="book_notes", max_chars=1000)
            submitted = st.button("Book", type="primary", key="book_button")
        if submitted:
            made = ui.act(actor, lambda s: bookings.create_booking(
                s, actor=actor, staff_id=staff_id, service_id=service.id, start_at=start,
                customer_id=customer[0] if customer else None, notes=notes))
            if made:
                del st.session_state[slot_key]  # the next run offers the first free time, not the one taken
                # Kept (not a one-run notice) so it survives the extra reruns the changed widgets cause.
                st.session_state["cal_last_booked"] = (
                    f"Booked {ui.plain(made.service_name)} with {ui.plain(made.staff_name)} on {when(made.start_at)}.")
                st.rerun()
