"""Owners: import customers from a CSV. Upload, preview, map the columns, read the
row-by-row report, then import the valid rows or nothing."""

import hashlib
from dataclasses import replace

import pandas as pd
import streamlit as st

from kaimen_core import customers
from pages import _ui as ui

actor = ui.actor()
st.title("Import customers")
if actor.role != "owner":
    st.error("Only owners can import customers.")
    st.stop()
ui.show_done()

_REPORT = "import_report"
_READ = "import_read"  # the upload's header, first rows and row count (ui.checked_upload)
_SKIP = "(don't import)"
limit_mb = customers.MAX_IMPORT_BYTES // (1024 * 1024)


def _read(data: bytes) -> tuple[customers.CsvFile, int]:
    """What this page shows of the file: its header and first rows, and how many rows it has.
    Reading 20 MB takes about a second, so it is read once per upload, not on every click;
    the check and the import read the file themselves."""
    whole = customers.read_csv(data)
    return replace(whole, rows=whole.rows[:5]), len(whole.rows)


st.caption(f"A CSV file up to {limit_mb} MB: UTF-8 (with or without BOM) or Latin-1, separated by commas, "
           "semicolons or tabs, with a header row. Nothing is written until you choose to import.")
upload = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key="import_file")
if upload is None:
    ui.forget(_REPORT, _READ)
    st.stop()

data = upload.getvalue()
read = ui.checked_upload(upload, _READ, _read)
if read is None:
    st.stop()
csv_file, row_count = read

st.subheader("Preview", anchor=False)
st.caption(f"{row_count:,} rows · {csv_file.encoding} · separated by "
           f"{ {',': 'commas', ';': 'semicolons', chr(9): 'tabs'}[csv_file.delimiter] }")
st.dataframe(pd.DataFrame(csv_file.preview(), columns=csv_file.headers), hide_index=True, width="stretch")

st.subheader("Columns", anchor=False)
st.caption("Ids, the business and opt-outs are never imported. Marketing consent needs its source and date columns.")
suggested = customers.suggest_mapping(csv_file.headers)
options = [_SKIP, *customers.FIELD_LABELS]
mapping: dict[str, str | None] = {}
columns = st.columns(min(len(csv_file.headers), 4))
for i, header in enumerate(csv_file.headers):
    choice = columns[i % len(columns)].selectbox(
        ui.plain(header) or f"Column {i + 1}", options, index=options.index(suggested.get(header) or _SKIP),
        key=f"map_{i}", format_func=lambda f: customers.FIELD_LABELS.get(f, f))
    mapping[header] = None if choice == _SKIP else choice
policy = st.radio("A phone number (or, without one, an email) that is already a customer or repeats in the file",
                  ["update", "skip"], horizontal=True, key="on_duplicate",
                  format_func={"update": "Update the customer", "skip": "Skip the row"}.get)

fingerprint = hashlib.sha256(data + repr(sorted(mapping.items())).encode() + policy.encode()).hexdigest()
if st.button("Check the file", type="primary", key="import_check"):
    checked = ui.act(actor, lambda s: customers.import_customers(s, actor=actor, data=data, mapping=mapping,
                                                                 on_duplicate=policy, dry_run=True))
    st.session_state[_REPORT] = (fingerprint, checked) if checked else None

saved = st.session_state.get(_REPORT)
if not saved or saved[0] != fingerprint:
    st.stop()
report = saved[1]

st.subheader("Report", anchor=False)
cols = st.columns(5)
for column, (label, value) in zip(cols, [("Would create", report.created), ("Would update", report.updated),
                                         ("Unchanged", report.unchanged), ("Skipped", report.skipped),
                                         ("Refused", report.refused)], strict=True):
    column.metric(label, f"{value:,}")
if report.issues:
    st.dataframe(pd.DataFrame({
        "Line": [i.line for i in report.issues],
        "Column": [i.column or "" for i in report.issues],
        "Outcome": [i.outcome for i in report.issues],
        "Reason": [i.reason for i in report.issues],
    }), hide_index=True, width="stretch", key="import_issues")
else:
    st.success("Every row is valid.")

go, cancel = st.columns(2)
if cancel.button("Import nothing", key="import_cancel"):
    st.session_state.pop(_REPORT, None)
    ui.done_and_rerun("Nothing was imported.")
if go.button("Import the valid rows", type="primary", key="import_go",
             disabled=not (report.created or report.updated)):
    bar = st.progress(0.0, text="Importing…")
    ui.act(actor, lambda s: customers.import_customers(s, actor=actor, data=data, mapping=mapping, on_duplicate=policy,
                                                       progress=lambda done: bar.progress(done, text="Importing…")),
           forget=[_REPORT],
           done=lambda result: f"Imported: created {result.created:,}, updated {result.updated:,}, unchanged "
                               f"{result.unchanged:,}, skipped {result.skipped:,}, refused {result.refused:,}.")
