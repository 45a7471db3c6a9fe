"""Privacy requests (access, correction, deletion, restriction) and verified erasure."""

from kaimen_core.privacy._access import access_export
from kaimen_core.privacy._bulk import COMMAND_LINE_OPERATOR, BulkResult, erase_requests, read_request_ids
from kaimen_core.privacy._closure import business_export, cancel_closure, close_business, request_closure
from kaimen_core.privacy._deadlines import acknowledge_by, add_months, due_date, extended_due_date
from kaimen_core.privacy._erasure import (
    STEPS,
    ErasureFailed,
    ErasureResult,
    ProviderErasers,
    phone_hash,
    run_erasure,
)
from kaimen_core.privacy._requests import (
    CHANNELS,
    KINDS,
    OPEN_STATUSES,
    REGIMES,
    RequestView,
    find_customer,
    get_request,
    list_requests,
    load_request,
    record_request,
)
from kaimen_core.privacy._verify import Finding, needles_for, scan, scan_many
from kaimen_core.privacy._workflow import (
    acknowledge,
    complete,
    extend,
    lift_restriction,
    record_correction,
    refuse,
    restrict,
    start,
    verify_identity,
)

__all__ = [
    "CHANNELS",
    "COMMAND_LINE_OPERATOR",
    "KINDS",
    "OPEN_STATUSES",
    "REGIMES",
    "STEPS",
    "BulkResult",
    "ErasureFailed",
    "ErasureResult",
    "Finding",
    "ProviderErasers",
    "RequestView",
    "access_export",
    "acknowledge",
    "acknowledge_by",
    "add_months",
    "business_export",
    "cancel_closure",
    "close_business",
    "complete",
    "due_date",
    "erase_requests",
    "extend",
    "extended_due_date",
    "find_customer",
    "get_request",
    "lift_restriction",
    "list_requests",
    "load_request",
    "needles_for",
    "phone_hash",
    "read_request_ids",
    "record_correction",
    "record_request",
    "refuse",
    "request_closure",
    "restrict",
    "run_erasure",
    "scan",
    "scan_many",
    "start",
    "verify_identity",
]
