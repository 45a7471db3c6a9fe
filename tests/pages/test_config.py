"""Streamlit's settings for Kaimen (.streamlit/config.toml), as Streamlit reads them when
started from the project's folder, as the Procfile starts it (issue 14, item 5)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _streamlit_option(name: str):
    """The option's value in a new Python process in the project's folder (not this
    process's, which AppTest has already configured)."""
    code = f"from streamlit import config; print(repr(config.get_option({name!r})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


def test_users_are_shown_no_error_details():
    # "none": a generic message only. The legacy `false` still shows the traceback.
    assert _streamlit_option("client.showErrorDetails") == "none"

