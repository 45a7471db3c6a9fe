"""Streamlit's settings for Kaimen (.streamlit/config.toml), as Streamlit reads them when
started from the project's folder, as the Procfile starts it (issue 14, items 5 and 12)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from kaimen_core import customers, media

REPO = Path(__file__).resolve().parents[2]
MB = 1024 * 1024


def _streamlit_option(name: str):
    """The option's value in a new Python process in the project's folder (not this
    process's, which AppTest has already configured)."""
    code = f"from streamlit import config; print(repr(config.get_option({name!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_users_are_shown_no_error_details():
    # "none": a generic message only. The legacy `false` still shows the traceback.
    assert _streamlit_option("client.showErrorDetails") == "none"


def test_uploads_stop_at_the_largest_file_kaimen_accepts():
    limit = _streamlit_option("server.maxUploadSize")  # megabytes, refused while the upload streams in
    assert limit * MB == customers.MAX_IMPORT_BYTES  # the CSV import's 20 MB
    assert limit * MB >= media.MAX_BYTES
