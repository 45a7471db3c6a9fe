"""The operator command line (kaimen_core.cli): ``python -m kaimen_core ...``."""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kaimen_core import auth, cli, demo
from kaimen_core.exceptions import InvalidCredentials
from kaimen_core.models import Booking, Business, Customer, Message, Service, StaffMember, User
from tests.factories import ORIGIN, PASSWORD, count, rows

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m kaimen_core`` in a child process with the test run's environment."""
    return subprocess.run(
        [sys.executable, "-m", "kaimen_core", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
        env={**os.environ, **env}, timeout=60, check=False,
    )


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_commands():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    for command in ("migrate", "seed-demo", "create-operator"):
        assert command in result.stdout


def test_a_bad_setting_exits_2_naming_it():
    result = _run("migrate", KAIMEN_WEBHOOK_PORT="not-a-port")
    assert result.returncode == 2
    assert "KAIMEN_WEBHOOK_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_setting_exits_2_in_process_too(database, capsys, monkeypatch):
    monkeypatch.setenv("KAIMEN_DATABASE_URL", "mysql://nobody@nowhere/kaimen")
    from kaimen_core import config

    config.reset_settings()
    try:
        code, _, err = _main(capsys, "seed-demo")
    finally:
        monkeypatch.undo()
        config.reset_settings()
    assert code == 2
    assert err.startswith("Configuration error:") and "KAIMEN_DATABASE_URL" in err
    assert count(Business) == 0


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["make-coffee"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_migrate_is_idempotent(database, capsys):
    code, out, _ = _main(capsys, "migrate")
    assert code == 0
    assert "Database is at the newest schema." in out
    if database.kind == "postgres":
        assert "Granted the app role 'kaimen_app_test'" in out


def _printed_password(out: str) -> str:
    match = re.search(r"Password for both: (\S+)", out)
    assert match, out
    return match.group(1)


def test_seed_demo_creates_demo_salon_once(database, capsys, monkeypatch):
    monkeypatch.delenv("KAIMEN_DEMO_PASSWORD", raising=False)
    code, out, _ = _main(capsys, "seed-demo")
    assert code == 0, out
    assert "Created the demo business Demo Salon (slug 'demo', number +15555550100)" in out
    password = _printed_password(out)

    [business] = rows(Business)
    assert (business.name, business.slug, business.messaging_number) == ("Demo Salon", "demo", "+15555550100")
    assert business.status == "active"
    roles = {u.username: (u.role, u.business_id) for u in rows(User)}
    assert roles == {"demo-owner": ("owner", business.id), "demo-staff": ("staff", business.id)}
    sample = {model.__name__: count(model) for model in (Customer, Booking, Service, StaffMember, Message)}
    assert all(sample.values()), sample
    assert count(Booking, Booking.status == "booked") > 0  # some bookings are still to come

    for username, role in (("demo-owner", "owner"), ("demo-staff", "staff")):
        signed_in = auth.sign_in(username=username, password=password, origin=ORIGIN)
        assert (signed_in.actor.role, signed_in.actor.business_id) == (role, business.id)

    kept = demo.credentials_file()
    assert password in kept.read_text()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert str(kept) in out

    code, again, _ = _main(capsys, "seed-demo")
    assert code == 0
    assert "Demo Salon already exists; nothing changed." in again
    assert "Password for both" not in again
    assert count(Business) == 1
    assert {model.__name__: count(model) for model in (Customer, Booking, Service, StaffMember, Message)} == sample
    assert auth.sign_in(username="demo-owner", password=password, origin=ORIGIN)  # the password did not change


def test_seed_demo_takes_the_password_from_standard_input(database, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("demo-password-from-stdin\n"))
    code, out, _ = _main(capsys, "seed-demo", "--password-stdin")
    assert code == 0
    assert _printed_password(out) == "demo-password-from-stdin"
    assert auth.sign_in(username="demo-staff", password="demo-password-from-stdin", origin=ORIGIN)


def test_create_operator_reads_the_password_from_standard_input(database, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = _main(capsys, "create-operator", "--username", "Ops.Kim", "--email", "kim@kaimen.example",
                           "--name", "Kim Ops", "--password-stdin")
    assert (code, err) == (0, "")
    assert "Created operator 'ops.kim'." in out
    assert PASSWORD not in out
    signed_in = auth.sign_in(username="ops.kim", password=PASSWORD, origin=ORIGIN)
    assert signed_in.actor.is_operator and signed_in.actor.business_id is None


@pytest.mark.parametrize(
    ("stdin", "argv", "message"),
    [
        ("short\n", ["--password-stdin"], "at least 12 characters"),
        ("", ["--password-stdin"], "Password is required"),
        (PASSWORD + "\n", [], "pass it with --password-stdin"),
    ],
    ids=["short", "empty", "no-terminal"],
)
def test_create_operator_refuses_a_bad_password_with_exit_1(database, capsys, monkeypatch, stdin, argv, message):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code, _, err = _main(capsys, "create-operator", "--username", "ops.lee", "--email", "lee@kaimen.example",
                         "--name", "Lee Ops", *argv)
    assert code == 1
    assert err.startswith("Error: ") and message in err
    assert count(User) == 0
    with pytest.raises(InvalidCredentials):
        auth.sign_in(username="ops.lee", password=PASSWORD, origin=ORIGIN)


def test_create_operator_in_a_child_process(database):
    result = _run("create-operator", "--username", "ops.max", "--email", "max@kaimen.example", "--name", "Max Ops",
                  "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "Created operator 'ops.max'." in result.stdout
    assert auth.sign_in(username="ops.max", password=PASSWORD, origin=ORIGIN).actor.is_operator


def test_create_operator_refuses_a_taken_username_with_exit_1(database, capsys, monkeypatch):
    auth.create_operator(username="ops.max", email="max@kaimen.example", display_name="Max", password=PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = _main(capsys, "create-operator", "--username", "ops.max", "--email", "max2@kaimen.example",
                         "--name", "Max Again", "--password-stdin")
    assert code == 1
    assert "The username 'ops.max' is already taken." in err
    assert count(User) == 1
