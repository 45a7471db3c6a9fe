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


def _import_customers(args: argparse.Namespace) -> None:
    from pathlib import Path

    from kaimen_core import customers

    path = Path(args.file)
    if not path.is_file():
        raise KaimenError(f"No such file: {path}")
    report = customers.operator_import(business_slug=args.business, data=path.read_bytes(),
                                       on_duplicate=args.on_duplicate, dry_run=args.dry_run)
    for issue in report.issues:
        column = f" [{issue.column}]" if issue.column else ""
        print(f"line {issue.line}{column}: {issue.outcome}: {issue.reason}")
    verb = "Would import (dry run, nothing written)" if args.dry_run else "Imported"
    print(f"{verb}: {report.rows} rows; created {report.created}, updated {report.updated}, "
          f"unchanged {report.unchanged}, skipped {report.skipped}, refused {report.refused}.")


def _export_customers(args: argparse.Namespace) -> None:
    from pathlib import Path

    from kaimen_core import customers

    path = Path(args.out)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as out:
            rows = customers.operator_export(business_slug=args.business, out=out)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    print(f"Exported {rows} customers to {path}.")


def _worker(_args: argparse.Namespace) -> None:
    from kaimen_core import worker
    from kaimen_core.logs import configure_logging

    configure_logging()
    worker.run_forever()


def _privacy_erase(args: argparse.Namespace) -> None:
    from pathlib import Path

    from kaimen_core import privacy

    ids = [args.request] if args.request is not None else privacy.read_request_ids(Path(args.requests_file))

    def progress(done: int, total: int, result: privacy.BulkResult) -> None:
        print(f"[{done}/{total}] request {result.request_id}: {result.status} — {result.detail}", flush=True)

    results = privacy.erase_requests(ids, actor=privacy.COMMAND_LINE_OPERATOR, on_progress=progress)
    failed = [r.request_id for r in results if r.status != "completed"]
    print(f"{len(results) - len(failed)} erased, {len(failed)} failed.")
    if failed:
        raise KaimenError(f"Requests not finished: {', '.join(map(str, failed))}. Run the same command again "
                          "to resume them.")


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

    worker = commands.add_parser("worker", help="run queued jobs (texts, reminders, retries) until stopped")
    worker.set_defaults(run=_worker)

    importer = commands.add_parser("import-customers", help="import a CSV of customers into a business (audited)")
    importer.add_argument("--business", required=True, metavar="SLUG", help="the business's slug")
    importer.add_argument("--file", required=True, metavar="FILE", help="the CSV file (headers as in an export)")
    importer.add_argument("--on-duplicate", choices=("update", "skip"), default="update",
                          help="what to do with a phone (or email) that is already a customer (default: update)")
    importer.add_argument("--dry-run", action="store_true", help="print the row-by-row report; write nothing")
    importer.set_defaults(run=_import_customers)

    exporter = commands.add_parser("export-customers", help="export a business's customers as CSV (audited)")
    exporter.add_argument("--business", required=True, metavar="SLUG", help="the business's slug")
    exporter.add_argument("--out", required=True, metavar="FILE", help="where to write the CSV")
    exporter.set_defaults(run=_export_customers)

    privacy_cmd = commands.add_parser("privacy", help="privacy operations (erasure of verified deletion requests)")
    privacy_commands = privacy_cmd.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    erase = privacy_commands.add_parser("erase", help="run or resume erasures; safe to run again after a stop")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--request", type=int, metavar="ID", help="one deletion request")
    which.add_argument("--requests-file", metavar="FILE", help="a file of request ids, one per line")
    erase.set_defaults(run=_privacy_erase)
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
