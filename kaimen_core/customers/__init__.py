"""Customers: the directory (search, sort, paging, add, edit), consent as events, the
customer's history, and CSV import and export that stay fast at a million rows."""

from kaimen_core.customers._consent import (
    BookingLine,
    ConsentRecord,
    CustomerHistory,
    MessageLine,
    PrivacyLine,
    customer_history,
    list_consent_events,
    record_consent,
)
from kaimen_core.customers._csv_export import EXPORT_COLUMNS, export_customers, neutralise
from kaimen_core.customers._csv_import import DUPLICATE_POLICIES, ImportReport, RowIssue, import_customers
from kaimen_core.customers._csv_read import (
    FIELD_LABELS,
    MAX_IMPORT_BYTES,
    CsvFile,
    read_csv,
    suggest_mapping,
    unneutralise,
)
from kaimen_core.customers._directory import create_customer, get_customer, update_customer
from kaimen_core.customers._operator import operator_export, operator_import
from kaimen_core.customers.search import (
    PAGE_SIZE,
    SORTS,
    CustomerPage,
    Route,
    build_search_blocks,
    forget_customers,
    refresh_search_index,
    refresh_search_indexes,
    search_customers,
)
from kaimen_core.models.customers import CONSENT_METHODS, CustomerCreate, CustomerPublic, CustomerUpdate

__all__ = [
    "CONSENT_METHODS",
    "DUPLICATE_POLICIES",
    "EXPORT_COLUMNS",
    "FIELD_LABELS",
    "MAX_IMPORT_BYTES",
    "PAGE_SIZE",
    "SORTS",
    "BookingLine",
    "ConsentRecord",
    "CsvFile",
    "CustomerCreate",
    "CustomerHistory",
    "CustomerPage",
    "CustomerPublic",
    "CustomerUpdate",
    "ImportReport",
    "MessageLine",
    "PrivacyLine",
    "Route",
    "RowIssue",
    "build_search_blocks",
    "create_customer",
    "customer_history",
    "export_customers",
    "forget_customers",
    "get_customer",
    "import_customers",
    "list_consent_events",
    "neutralise",
    "operator_export",
    "operator_import",
    "read_csv",
    "record_consent",
    "refresh_search_index",
    "refresh_search_indexes",
    "search_customers",
    "suggest_mapping",
    "unneutralise",
    "update_customer",
]
