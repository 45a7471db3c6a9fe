"""Owners and staff: the customer directory (server-side search, sort, paging), add and
edit, and one customer's whole history. Owners also export as CSV (staff cannot)."""

import tempfile

import pandas as pd
import streamlit as st

from kaimen_core import customers, db, tenancy
from pages import _ui as ui

actor = ui.actor()
st.title("Customers")
ui.show_done()

_PAGE = "customers_page"
_SORT_LABELS = {"name": "Name (A–Z)", "newest": "Newest first", "recently_updated": "Recently updated"}

with db.tenant_session(actor) as session:
    zone = tenancy.get_business(session, actor=actor).time_zone


def _profile_inputs(prefix: str, current=None) -> dict:
    """A box per editable field of the customer family (two columns, the notes under them),
    holding ``current``'s values as typed; returns them under the names the family reads."""
    family = customers.CustomerCreate
    left, right = st.columns(2)
    values = {}
    for typed, column in family.inputs().items():
        field, shown = family.model_fields[column], getattr(current, column, None)
        shown = ", ".join(shown) if isinstance(shown, list) else shown or ""
        box = st.text_area if column == "notes" else (left if len(values) % 2 == 0 else right).text_input
        values[typed] = box(field.title, value=shown, key=f"{prefix}_{typed}", help=field.description)
    return values


with st.expander("Add a customer"):
    with st.form("add_customer", clear_on_submit=True):
        new = _profile_inputs("new")
        add = st.form_submit_button("Add customer", type="primary")
    if add:
        created = ui.act(actor, lambda s: customers.create_customer(s, actor=actor, **new))
        if created:
            st.session_state["customer_pick_id"] = created.id
            ui.done_and_rerun(f"Added {created.name}.")

with st.form("customer_search_form"):
    left, right = st.columns([3, 1])
    query = left.text_input("Search", key="customer_search", placeholder="Name, phone (any format), email or tag")
    sort = right.selectbox("Sort by", list(_SORT_LABELS), format_func=_SORT_LABELS.get, key="customer_sort")
    if st.form_submit_button("Search"):
        st.session_state[_PAGE] = 0

page_number = st.session_state.get(_PAGE, 0)
found = ui.act(actor, lambda s: customers.search_customers(s, actor=actor, query=query, sort=sort, page=page_number))
if found is None:
    st.stop()

if not found.customers:
    st.info("No customers match this search." if query else "No customers yet. Add one above or import a CSV.")
else:
    st.dataframe(
        pd.DataFrame({
            "Name": [c.name for c in found.customers],
            "Phone": [c.phone_e164 or "" for c in found.customers],
            "Email": [c.email or "" for c in found.customers],
            "Tags": [", ".join(c.tags) for c in found.customers],
            "Marketing SMS": ["yes" if c.marketing_consent else "no" for c in found.customers],
            "Opted out": ["yes" if c.opted_out_at else "" for c in found.customers],
            "Restricted": ["yes" if c.restricted_at else "" for c in found.customers],
            "Added": [ui.local_time(c.created_at, zone, "%Y-%m-%d") for c in found.customers],
        }),
        hide_index=True,
        width="stretch",
    )
first = found.page * found.page_size + 1
st.caption(f"Showing {first}–{first + len(found.customers) - 1}" if found.customers else "")
previous, _, following = st.columns([1, 4, 1])
if previous.button("Previous page", disabled=found.page == 0, key="customers_previous"):
    st.session_state[_PAGE] = max(found.page - 1, 0)
    st.rerun()
if following.button("Next page", disabled=not found.has_next, key="customers_next"):
    st.session_state[_PAGE] = found.page + 1
    st.rerun()

if actor.role == "owner":
    scope = st.radio("Export", ["All customers", "This search"], horizontal=True, key="export_scope",
                     disabled=not query)
    export_query = query if scope == "This search" else None

    def _export_file():
        # Runs only when the owner clicks. The export streams into a temporary file (never
        # a million Python rows); Streamlit then serves that file's bytes from its media store.
        spool = tempfile.TemporaryFile()
        with db.tenant_session(actor) as session:
            customers.export_customers(session, actor=actor, out=spool, query=export_query)
        spool.flush()
        raw = spool.detach()  # the unbuffered file, a type download_button accepts
        raw.seek(0)
        return raw

    st.download_button("Download CSV", data=_export_file, file_name="customers.csv", mime="text/csv",
                       key="export_customers", icon=":material/download:",
                       help="UTF-8 with BOM; restricted customers are left out; the export is in the audit log")

if found.customers:
    st.divider()
    ids = [c.id for c in found.customers]
    wanted = st.session_state.get("customer_pick_id")
    pick = st.selectbox("Open a customer", ids, index=ids.index(wanted) if wanted in ids else 0, key="customer_pick",
                        format_func=lambda i: next(f"{c.name} · {c.phone_e164 or c.email or ''}"
                                                   for c in found.customers if c.id == i))
    history = ui.act(actor, lambda s: customers.customer_history(s, actor=actor, customer_id=pick))
    if history:
        c = history.customer
        st.subheader(ui.plain(c.name), anchor=False)
        facts = [
            f"Phone: {ui.plain(c.phone_e164) or '—'}",
            f"Email: {ui.plain(c.email) if c.email else '—'}",
            f"Language: {ui.plain(c.preferred_language) or '—'} · Time zone: {ui.plain(c.time_zone) or '—'}",
            "Transactional texts: " + ("yes (existing customer relationship)" if c.transactional_consent else "no"),
            "Marketing texts: " + (f"yes, since {ui.local_time(c.marketing_consent_at, zone)} "
                                   f"({c.marketing_consent_method})" if c.marketing_consent else "no"),
        ]
        for fact in facts:
            st.markdown(fact)
        if c.opted_out_at:
            st.warning(f"Opted out of all texts on {ui.local_time(c.opted_out_at, zone)}. Nothing will be sent.")
        if c.restricted_at:
            st.warning(f"Processing restricted (privacy request) since {ui.local_time(c.restricted_at, zone)}.")
        if c.notes:
            st.markdown("Notes: " + ui.plain(c.notes))

        with st.expander("Edit"):
            with st.form(f"edit_customer_{c.id}"):
                changes = _profile_inputs(f"edit{c.id}", c)
                save = st.form_submit_button("Save changes", type="primary")
            if save and ui.act(actor, lambda s: customers.update_customer(s, actor=actor, customer_id=c.id, **changes)):
                st.session_state["customer_pick_id"] = c.id
                ui.done_and_rerun("Saved.")

        with st.expander("Record consent"):
            with st.form(f"consent_{c.id}", clear_on_submit=True):
                kind = st.selectbox("Consent", ["marketing", "transactional"], key="consent_kind")
                granted = st.radio("Change", ["granted", "withdrawn"], horizontal=True, key="consent_granted")
                method = st.selectbox("How", [m for m in customers.CONSENT_METHODS if m != "import"],
                                      format_func=lambda m: m.replace("_", " "), key="consent_method")
                wording = st.text_area("Wording shown to the customer", key="consent_wording")
                record = st.form_submit_button("Record")
            if record and ui.act(actor, lambda s: customers.record_consent(
                    s, actor=actor, customer_id=c.id, kind=kind, granted=granted == "granted", method=method,
                    wording=wording)):
                st.session_state["customer_pick_id"] = c.id
                ui.done_and_rerun("Consent recorded.")

        st.markdown("**Consent history**")
        if history.consent:
            st.dataframe(pd.DataFrame({
                "When": [ui.local_time(e.occurred_at, zone) for e in history.consent],
                "Consent": [e.kind for e in history.consent],
                "Change": ["granted" if e.granted else "withdrawn" for e in history.consent],
                "How": [e.method.replace("_", " ") for e in history.consent],
                "Wording": [e.wording or "" for e in history.consent],
                "Captured by": [e.captured_by or "" for e in history.consent],
            }), hide_index=True, width="stretch", key="consent_history")
        else:
            st.caption("No consent changes recorded.")
        for label, lines, columns in [
            ("Bookings", history.bookings, lambda b: {"When": ui.local_time(b.start_at, zone),
                                                      "Service": b.service or "", "Staff": b.staff or "",
                                                      "Status": b.status}),
            ("Messages", history.messages, lambda m: {"When": ui.local_time(m.created_at, zone),
                                                      "Direction": m.direction, "Status": m.status, "Text": m.body}),
            ("Privacy requests", history.privacy_requests, lambda p: {
                "Received": ui.local_time(p.received_at, zone), "Kind": p.kind, "Status": p.status,
                "Due": ui.local_time(p.due_at, zone, "%Y-%m-%d")}),
        ]:
            st.markdown(f"**{label}**")
            if lines:
                st.dataframe(pd.DataFrame([columns(line) for line in lines]), hide_index=True, width="stretch")
            else:
                st.caption(f"No {label.lower()}.")
