"""Owners and staff: two-way texts with customers; conversations, threads, replies."""

import streamlit as st

from kaimen_core import db, messaging, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Inbox")
ui.show_done()

FILTER_LABELS = {"All": None, "Unread": "unread", "Needs a person": "needs_person", "Opted out": "opted_out"}
STATUS_ICONS = {"received": "", "queued": "⏳ queued", "held": "⏸ held", "sending": "⏳ sending", "sent": "✓ sent",
                "delivered": "✓✓ delivered", "undelivered": "⚠ undelivered", "failed": "⚠ failed",
                "refused": "⛔ refused"}

with db.tenant_session(actor) as session:
    business = tenancy.get_business(session, actor=actor)
    templates = messaging.get_messaging_settings(session, actor=actor).templates
zone = business.time_zone

if messaging.simulation_available():
    with st.expander("Simulate an incoming text", icon=":material/science:"):
        st.caption("No Twilio keys are set, so texts stay on this machine: replies go to the local outbox and "
                   "show as delivered. Pretend a customer texted you:")
        with st.form("simulate", clear_on_submit=True):
            left, right = st.columns([1, 2])
            phone = left.text_input("From number", key="simulate_phone", placeholder="+1 212 555 0123")
            text = right.text_input("Text", key="simulate_body", placeholder="Hi! Can I book Friday?")
            simulate = st.form_submit_button("Receive text")
        if simulate:
            ui.act(actor, lambda s: messaging.simulate_incoming(s, actor=actor, phone=phone, body=text),
                   done="A text arrived.")

list_column, thread_column = st.columns([1, 2], gap="large")

with list_column:
    shown = st.segmented_control("Show", list(FILTER_LABELS), default="All", key="inbox_filter")
    search = st.text_input("Search", key="inbox_search", placeholder="Name, number or text")


@ui.fragment(run_every="5s")
def conversation_list() -> None:
    rows = ui.act(actor, lambda s: messaging.list_conversations(s, actor=actor, show=FILTER_LABELS.get(shown or "All"),
                                                                search=search))
    if not rows:
        st.info("No conversations yet." if not search and (shown or "All") == "All" else "Nothing matches.")
        return
    for row in rows:
        badge = f" · {row.unread} unread" if row.unread else ""
        flags = (" · needs a person" if row.needs_person else "") + (" · opted out" if row.opted_out else "")
        label = f"{ui.plain(row.name)}{badge}{flags}"
        if st.button(label, key=f"conversation_{row.customer_id}", width="stretch",
                     type="primary" if row.customer_id == st.session_state.get("inbox_customer") else "secondary",
                     help=ui.local_time(row.last_message_at, zone)):
            st.session_state["inbox_customer"] = row.customer_id
            st.rerun()
        st.caption(ui.plain(row.preview))


with list_column:
    conversation_list()


def use_template() -> None:
    name = st.session_state.get("compose_template")
    customer_name = st.session_state.get("inbox_customer_name", "")
    if name:
        st.session_state["compose_body"] = messaging.render(
            templates[name], {"name": customer_name.split(" ")[0], "business": business.name,
                              "service": "{service}", "staff": "{staff}", "time": "{time}"})


@ui.fragment(run_every="5s")
def thread_view(customer_id: int) -> None:
    thread = ui.act(actor, lambda s: messaging.get_thread(s, actor=actor, customer_id=customer_id))
    if thread is None:
        return
    st.session_state["inbox_customer_name"] = thread.name
    st.subheader(ui.plain(thread.name))
    st.caption(ui.plain(thread.phone) or "no number")
    if thread.needs_person:
        st.warning(f"Needs a person: {ui.plain(thread.needs_person_reason)}. Automated texts are paused.")
    for message in thread.messages:
        with st.chat_message("user" if message.direction == "inbound" else "assistant",
                             avatar=":material/person:" if message.direction == "inbound" else ":material/storefront:"):
            st.markdown(ui.plain(message.body))
            for item in message.media:
                st.caption(f"Attachment ({ui.plain(item.get('content_type')) or 'file'}): {ui.plain(item.get('url'))}")
            meta = [ui.local_time(message.created_at, zone)]
            if message.direction == "outbound":
                meta.append(STATUS_ICONS.get(message.status, message.status))
                if message.status in ("held", "refused") and message.decision:
                    meta.append(message.decision)
                if message.error_message:
                    meta.append(f"reason: {message.error_message}"
                                + (f" (code {message.error_code})" if message.error_code else ""))
            st.caption(" · ".join(ui.plain(part) for part in meta if part))


with thread_column:
    selected = st.session_state.get("inbox_customer")
    if selected is None:
        st.info("Choose a conversation.")
    else:
        thread_view(selected)
        thread = ui.act(actor, lambda s: messaging.get_thread(s, actor=actor, customer_id=selected))
        if thread is not None:
            actions = st.columns(2)
            if actions[0].button("Mark as read", key="mark_read", icon=":material/mark_email_read:"):
                ui.act(actor, lambda s: messaging.mark_read(s, actor=actor, customer_id=selected),
                       done="Marked as read.")
            if thread.needs_person and actions[1].button("Resume automated texts", key="resolve_flag"):
                ui.act(actor, lambda s: messaging.resolve_flag(s, actor=actor, customer_id=selected),
                       done="Automated texts resumed for this customer.")
            if not thread.can_text:
                st.error(f"You cannot text this customer: {ui.plain(thread.cannot_text_reason)}.")
            if st.session_state.pop("compose_clear", False):  # before the widgets exist, so allowed
                st.session_state["compose_body"] = ""
                st.session_state["compose_template"] = None
            st.selectbox("Template", list(templates), index=None, key="compose_template", on_change=use_template,
                         placeholder="Start from a template", disabled=not thread.can_text,
                         format_func=lambda name: name.replace("_", " ").capitalize())
            body = st.text_area("Message", key="compose_body", max_chars=1600, disabled=not thread.can_text)
            count = messaging.segments(body or "")
            st.caption(f"{len(body or '')} characters · {count.encoding} · {count.segments} segment"
                       f"{'' if count.segments == 1 else 's'} ({count.per_segment} characters each)")
            if st.button("Send", key="compose_send", type="primary", disabled=not thread.can_text):
                sent = ui.act(actor, lambda s: messaging.send_text(s, actor=actor, customer_id=selected, body=body))
                if sent is not None:
                    st.session_state["compose_clear"] = True
                    if sent.status == "refused":
                        ui.done_and_rerun(f"Not sent: {sent.decision}")
                    ui.done_and_rerun("Sent." if sent.status == "queued" else sent.decision or "Saved.")
