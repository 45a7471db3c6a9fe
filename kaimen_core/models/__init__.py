"""The SQLModel tables, one module per aggregate. Importing this registers every table."""

from kaimen_core.models._types import utcnow
from kaimen_core.models.audit import AuditEvent, AuditEventPublic
from kaimen_core.models.auth import NETWORK_ACTIONS, ROLES, LoginAttempt, NetworkAttempt, User, UserPublic, UserSession
from kaimen_core.models.bookings import (
    BOOKING_EVENT_KINDS,
    BOOKING_STATUSES,
    Booking,
    BookingEvent,
    BusinessHours,
    StaffHours,
    TimeOff,
)
from kaimen_core.models.customers import ConsentEvent, Customer, SuppressionEntry
from kaimen_core.models.jobs import Job
from kaimen_core.models.messaging import Conversation, Message, MessagingSettings, ReminderRecord, ScreeningTerm
from kaimen_core.models.platform import PLATFORM_ROWS, PlatformRows
from kaimen_core.models.privacy import PrivacyRequest
from kaimen_core.models.services import (
    Service,
    ServiceCreate,
    ServiceUpdate,
    ServiceView,
    StaffCreate,
    StaffMember,
    StaffService,
    StaffUpdate,
    StaffView,
)
from kaimen_core.models.tenancy import (
    BUSINESS_STATUSES,
    ENFORCEMENT_ACTIONS,
    Business,
    BusinessPublic,
    BusinessUpdate,
    EnforcementAction,
)
from kaimen_core.models.webhooks import WebhookEvent, business_signer, unrouted_events_of

__all__ = [
    "BOOKING_EVENT_KINDS",
    "BOOKING_STATUSES",
    "BUSINESS_STATUSES",
    "ENFORCEMENT_ACTIONS",
    "NETWORK_ACTIONS",
    "PLATFORM_ROWS",
    "ROLES",
    "AuditEvent",
    "AuditEventPublic",
    "Booking",
    "BookingEvent",
    "Business",
    "BusinessHours",
    "BusinessPublic",
    "BusinessUpdate",
    "ConsentEvent",
    "Conversation",
    "Customer",
    "EnforcementAction",
    "Job",
    "LoginAttempt",
    "Message",
    "MessagingSettings",
    "NetworkAttempt",
    "PlatformRows",
    "PrivacyRequest",
    "ReminderRecord",
    "ScreeningTerm",
    "Service",
    "ServiceCreate",
    "ServiceUpdate",
    "ServiceView",
    "StaffCreate",
    "StaffHours",
    "StaffMember",
    "StaffService",
    "StaffUpdate",
    "StaffView",
    "SuppressionEntry",
    "TimeOff",
    "User",
    "UserPublic",
    "UserSession",
    "WebhookEvent",
    "business_signer",
    "unrouted_events_of",
    "utcnow",
]

#: Tables that hold one business's rows, guarded by row-level security on PostgreSQL.
#: ``businesses`` itself is guarded on its ``id``. The rows no business owns (tables without
#: ``business_id``, rows where it is NULL) are declared in :data:`PLATFORM_ROWS`.
TENANT_TABLES = (
    "users",
    "user_sessions",
    "customers",
    "consent_events",
    "suppression_list",
    "staff",
    "services",
    "staff_services",
    "bookings",
    "messages",
    "jobs",
    "webhook_events",
    "privacy_requests",
    "audit_events",
    "enforcement_actions",
    "business_hours",
    "staff_hours",
    "time_off",
    "booking_events",
    "messaging_settings",
    "conversations",
    "reminder_records",
)
#: Tables PostgreSQL derives from ``customers`` for searching (migration 0011), guarded by
#: row-level security like the tables above. They have no model: SQLite has none.
SEARCH_INDEX_TABLES = ("customer_search_blocks", "customer_search_grams", "customer_search_changes")
__all__ += ["SEARCH_INDEX_TABLES", "TENANT_TABLES"]
