"""Row-level security: each policy reads the transaction's tenant once per statement.

The policies of migrations 0001, 0003 and 0004 call ``current_setting`` in the condition
itself, so PostgreSQL evaluates it (a settings lookup, a string compare and a parse to
bigint) for every row a statement visits. Reading the settings in sub-selects makes
them InitPlans, computed once per statement, leaving one integer comparison per row.
Who sees what does not change: the same settings, the same condition.

Measured on the customer directory at a million rows: walking the sort index took half
the time (12,700 entries in 3.3 ms instead of 7).

Revision ID: 0009_tenant_policy_once
Revises: 0008_twilio_accounts
Create Date: 2026-11-27 16:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0009_tenant_policy_once"
down_revision = "0008_twilio_accounts"
branch_labels = None
depends_on = None

#: Every table under the ``tenant_isolation`` policy, and the column naming its business.
_TENANT_TABLES = {
    **{table: "business_id" for table in (
        "users", "user_sessions", "customers", "consent_events", "suppression_list", "staff", "services",
        "staff_services", "bookings", "messages", "jobs", "webhook_events", "privacy_requests", "audit_events",
        "enforcement_actions", "business_hours", "staff_hours", "time_off", "booking_events",
        "messaging_settings", "conversations", "reminder_records")},
    "businesses": "id",
}
_ONCE = ("{column} = (SELECT NULLIF(current_setting('app.business_id', true), '')::bigint) "
         "OR (SELECT current_setting('app.cross_tenant', true) = 'on')")
_PER_ROW = ("{column} = NULLIF(current_setting('app.business_id', true), '')::bigint "
            "OR current_setting('app.cross_tenant', true) = 'on'")
_CROSS_ONCE = "(SELECT current_setting('app.cross_tenant', true) = 'on')"
_CROSS_PER_ROW = "current_setting('app.cross_tenant', true) = 'on'"


def _set_policies(condition: str, cross_only: str) -> None:
    for table, column in _TENANT_TABLES.items():
        rule = condition.format(column=column)
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING ({rule}) WITH CHECK ({rule})")
    op.execute(f"ALTER POLICY tenant_isolation ON login_attempts USING ({cross_only}) WITH CHECK ({cross_only})")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set_policies(_ONCE, _CROSS_ONCE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _set_policies(_PER_ROW, _CROSS_PER_ROW)
