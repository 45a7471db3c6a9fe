"""Kaimen's operator command line: ``python -m kaimen_core --help``."""

from __future__ import annotations

import argparse
import getpass
import sys

from kaimen_core.exceptions import ConfigurationError, KaimenError

__all__ = ["main"]


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise KaimenError("No terminal to ask for a password on; pass it with --password-stdin.")
    first = getpass.getpass("Password (at least 12 characters): ")
    if getpass.getpass("Repeat the password: ") != first:
        raise KaimenError("The two passwords do not match.")
    return first


def _migrate(_args: argparse.Namespace) -> None:
    from kaimen_core import db

    role = db.migrate()
    print("Database is at the newest schema." + (f" Granted the app role {role!r}." if role else ""))


def _seed_demo(args: argparse.Namespace) -> None:
    from kaimen_core import demo

    password = _read_password(args) if args.password_stdin else None
    result = demo.seed_demo(password=password)
    if result.created:
        print("Created the demo business Demo Salon (slug 'demo', number +15555550100).")
        print(f"  Sign in at http://127.0.0.1:8501 as {result.owner_username} (owner) "
              f"or {result.staff_username} (staff)")
        print(f"  Password for both: {result.password}")
        print(f"  (kept in {demo.credentials_file()})")
    else:
        path = demo.credentials_file()
        print("Demo Salon already exists; nothing changed.")
        if path.exists():
            print(f"  Its sign-in is in {path}")


def _create_operator(args: argparse.Namespace) -> None:
    from kaimen_core import auth

    user = auth.create_operator(username=args.username, email=args.email, display_name=args.name,
                                password=_read_password(args))
    print(f"Created operator {user.username!r}.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kaimen_core", description="Kaimen operator commands.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate = commands.add_parser("migrate", help="bring the database schema up to date (and grant the app role)")
    migrate.set_defaults(run=_migrate)

    seed = commands.add_parser("seed-demo", help="create Demo Salon with sample data, unless it exists")
    seed.add_argument("--password-stdin", action="store_true", help="read the demo password from standard input")
    seed.set_defaults(run=_seed_demo)

    operator = commands.add_parser("create-operator", help="create a Kaimen operator account")
    operator.add_argument("--username", required=True)
    operator.add_argument("--email", required=True)
    operator.add_argument("--name", required=True, help="the operator's display name")
    operator.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    operator.set_defaults(run=_create_operator)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from kaimen_core.config import get_settings

        get_settings()
        args.run(args)
    except ConfigurationError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except KaimenError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0
