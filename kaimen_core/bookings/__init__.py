"""Bookings: services, staff with photos, hours and time off, free slots, the booking
lifecycle, and the Home page's booking charts.

Owners set up services, staff, hours and time off; owners and staff view and manage
bookings (staff get PermissionDenied for set-up). Times are stored in UTC and weekly
hours are wall-clock times in the business's zone. No staff member is ever booked for
overlapping time: see :mod:`kaimen_core.bookings._lifecycle`.
"""

from kaimen_core.bookings._availability import MAX_RANGE_DAYS, Slot, free_slots, working_intervals
from kaimen_core.bookings._calendar import CalendarGrid, customer_choices, day_grid, week_grid
from kaimen_core.bookings._dashboard import DashboardFigures, dashboard_figures
from kaimen_core.bookings._hours import (
    WEEKDAYS,
    Span,
    TimeOffView,
    add_time_off,
    business_hours,
    list_time_off,
    remove_time_off,
    set_business_hours,
    set_staff_hours,
    staff_hours,
)
from kaimen_core.bookings._lifecycle import (
    BookingView,
    cancel_booking,
    complete_booking,
    create_booking,
    get_booking,
    list_bookings,
    mark_no_show,
    reschedule_booking,
)
from kaimen_core.bookings._services import ServiceView, create_service, list_services, update_service
from kaimen_core.bookings._staff import (
    StaffView,
    create_staff,
    list_staff,
    remove_staff_photo,
    set_staff_photo,
    staff_photo,
    update_staff,
)

__all__ = [
    "MAX_RANGE_DAYS",
    "WEEKDAYS",
    "BookingView",
    "CalendarGrid",
    "DashboardFigures",
    "ServiceView",
    "Slot",
    "Span",
    "StaffView",
    "TimeOffView",
    "add_time_off",
    "business_hours",
    "cancel_booking",
    "complete_booking",
    "create_booking",
    "create_service",
    "create_staff",
    "customer_choices",
    "dashboard_figures",
    "day_grid",
    "free_slots",
    "get_booking",
    "list_bookings",
    "list_services",
    "list_staff",
    "list_time_off",
    "mark_no_show",
    "remove_staff_photo",
    "remove_time_off",
    "reschedule_booking",
    "set_business_hours",
    "set_staff_hours",
    "set_staff_photo",
    "staff_hours",
    "staff_photo",
    "update_service",
    "update_staff",
    "week_grid",
    "working_intervals",
]
