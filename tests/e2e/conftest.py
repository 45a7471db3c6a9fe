"""Real-browser fixtures: Kaimen served by its own Streamlit process, driven by Chromium.

``server`` runs once, on one database (PostgreSQL when KAIMEN_TEST_POSTGRES_URL names
a server, else SQLite: the browser adds the screen, and kaimen_core's own tests cover
both databases), exactly as an operator would start it: a new data folder, ``python -m
kaimen_core migrate``, ``seed-demo``, then ``streamlit run Home.py``. ``fresh_server``
starts one more Streamlit process on the same database for a test that needs a server
no browser has talked to yet. Tests skip, saying why, when Chromium or Playwright is
missing. A failed test leaves screenshots of its pages under ``/tmp/kaimen-e2e/``.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ONE_DATABASE

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
POSTGRES_URL = os.environ.get("KAIMEN_TEST_POSTGRES_URL")
APP_ROLE = "kaimen_app_e2e"
SCREENSHOTS = Path(tempfile.gettempdir()) / "kaimen-e2e"

DEMO_PASSWORD = "demo-e2e-password"
# An operator made only to be locked out, so the lockout test never locks a demo user.
LOCKOUT_USERNAME = "lockout-e2e"
LOCKOUT_PASSWORD = "lockout-e2e-password"

_FAILED = pytest.StashKey[bool]()
_INHERITED = ("KAIMEN_", "TWILIO_", "STRIPE_", "ANTHROPIC_", "CLOUDINARY_")


@dataclass(frozen=True)
class Server:
    """A running Kaimen: its address, the environment it runs with, and its folder."""

    kind: str
    url: str
    env: dict[str, str]
    root: Path
    demo_password: str = DEMO_PASSWORD
    lockout_username: str = LOCKOUT_USERNAME
    lockout_password: str = LOCKOUT_PASSWORD


def _require_browser() -> None:
    if CHROMIUM is None:
        pytest.skip("browser tests need Chromium (/usr/bin/chromium or `chromium` on PATH): apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need Playwright for Python: pip install playwright (no `playwright install`)")


# --- the server ----------------------------------------------------------------------


def _kaimen(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    """Run ``python -m kaimen_core ARGS`` as an operator would; fail the test setup on error."""
    done = subprocess.run(
        [sys.executable, "-m", "kaimen_core", *args],
        cwd=REPO, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"python -m kaimen_core {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    env.update(
        KAIMEN_ENV="development",
        KAIMEN_DATA_DIR=str(data_dir),
        KAIMEN_BCRYPT_ROUNDS="4",
        KAIMEN_COOKIE_KEY="e2e-cookie-key-" + "k" * 32,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    return env


@contextmanager
def _database(kind: str, root: Path) -> Iterator[dict[str, str]]:
    """The environment of a Kaimen on a new, empty database of ``kind``."""
    env = _base_env(root / "data")
    if kind == "sqlite":  # the default: kaimen.db in the data folder
        yield env
        return

    import psycopg
    from sqlalchemy import make_url

    admin = make_url(POSTGRES_URL)
    name = f"kaimen_e2e_{os.getpid()}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    try:
        env["KAIMEN_MIGRATE_DATABASE_URL"] = admin.set(database=name).render_as_string(hide_password=False)
        env["KAIMEN_DATABASE_URL"] = admin.set(
            database=name, username=APP_ROLE, password="app-e2e-password"
        ).render_as_string(hide_password=False)
        yield env
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/_stcore/health")
        with connection.getresponse() as response:
            response.read()
            return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen) -> None:
    """End the server and everything it started (it leads its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    process.wait()


@contextmanager
def _streamlit(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``streamlit run Home.py`` on a free port; yields its address once /_stcore/health answers."""
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "Home.py",
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]
    with (
        log_path.open("ab") as log,
        subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True) as process,
    ):
        try:
            deadline = time.monotonic() + 60
            while not _healthy(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Streamlit did not start (exit {process.poll()}):\n{log_path.read_text()}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(process)


@pytest.fixture(scope="package", params=ONE_DATABASE)
def server(request, tmp_path_factory) -> Iterator[Server]:
    """Kaimen with Demo Salon seeded, on PostgreSQL when configured, else on SQLite."""
    _require_browser()
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with _database(request.param, root) as env:
        _kaimen(env, "migrate")
        _kaimen(env, "seed-demo", "--password-stdin", stdin=DEMO_PASSWORD + "\n")
        _kaimen(env, "create-operator", "--username", LOCKOUT_USERNAME, "--email", "lockout@kaimen.example",
                "--name", "Locked Out", "--password-stdin", stdin=LOCKOUT_PASSWORD + "\n")
        with _streamlit(env, root / "streamlit.log") as url:
            yield Server(request.param, url, env, root)


@pytest.fixture
def fresh_server(server: Server, request) -> Iterator[Server]:
    """Another Streamlit process on the same database that no browser has opened yet."""
    log = server.root / f"fresh-{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}.log"
    with _streamlit(server.env, log) as url:
        yield Server(server.kind, url, server.env, server.root)


# --- the browser ---------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium for this package's tests only: Playwright's sync API keeps an event loop
    running in the main thread while it is open, which later suites' own loops must not meet."""
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # a 2-core machine running other suites is slow at times
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def new_context(browser, request) -> Iterator[Callable[..., Any]]:
    """Make a new browser profile (its own cookies); optional ``cookies`` are copied in first."""
    contexts = []

    def make(cookies: list[dict[str, Any]] | None = None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        if cookies:
            context.add_cookies(cookies)
        contexts.append(context)
        return context

    yield make
    failed = request.node.stash.get(_FAILED, False)
    for i, context in enumerate(contexts):
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            for j, page in enumerate(context.pages):
                path = SCREENSHOTS / f"{stem}-{i}-{j}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot: {path}")
                except Exception as exc:  # a screenshot must not hide the real failure
                    print(f"no screenshot of {path}: {exc}")
        context.close()
