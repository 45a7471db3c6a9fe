"""Import and export for Kaimen's operators, from the command line, for one business.

There is no signed-in user at a terminal, so these run as the system actor narrowed to
the one business named by its slug: the transaction's ``app.business_id`` is that
business and cross-tenant access is off, so row-level security holds exactly as for
its owner. Each run is audited in that business's log ("operator.cli_access" plus the
import or export event), without personal data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from sqlalchemy import text
from sqlmodel import Session, select

from kaimen_core import audit, db
from kaimen_core.actors import Actor
from kaimen_core.customers._csv_export import export_customers
from kaimen_core.customers._csv_import import ImportReport, import_customers
from kaimen_core.customers._csv_read import read_csv, suggest_mapping
from kaimen_core.exceptions import NotFound

__all__ = ["operator_export", "operator_import", "operator_session"]


@contextmanager
def operator_session(business_slug: str, *, purpose: str) -> Iterator[tuple[Session, Actor]]:
    """A session limited to the business ``business_slug`` and the system actor acting for it."""
    with db.system_session() as session:
        from kaimen_core.models import Business

        business_id = session.exec(select(Business.id).where(Business.slug == business_slug.strip())).first()
        if business_id is None:
            raise NotFound(f"No business has the slug {business_slug!r}.")
        # Narrow this transaction (and any later one of this session) to the one business.
        session.info["scope"] = db.TenantScope(business_id=business_id)
        session.connection().execute(
            text("SELECT set_config('app.business_id', :b, true), set_config('app.cross_tenant', '', true)")
            if session.connection().dialect.name == "postgresql" else text("SELECT :b"),
            {"b": str(business_id)},
        )
        actor = Actor(role="system", business_id=business_id, username="operator-cli",
                      display_name="Kaimen command line")
        audit.record(session, actor=actor, action="operator.cli_access", target_type=purpose)
        yield session, actor


def operator_import(*, business_slug: str, data: bytes, on_duplicate: str = "update",
                    dry_run: bool = False) -> ImportReport:
    """Import a CSV for a business, mapping columns by their header names (as exported)."""
    mapping = suggest_mapping(read_csv(data, max_bytes=len(data) + 1).headers)
    with operator_session(business_slug, purpose="customers_import") as (session, actor):
        return import_customers(session, actor=actor, data=data, mapping=mapping, on_duplicate=on_duplicate,
                                dry_run=dry_run, max_bytes=len(data) + 1)


def operator_export(*, business_slug: str, out: BinaryIO) -> int:
    """Export a business's customers (restricted ones left out) as CSV; return the row count."""
    with operator_session(business_slug, purpose="customers_export") as (session, actor):
        return export_customers(session, actor=actor, out=out)
