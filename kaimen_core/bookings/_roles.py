"""Who may do what in bookings: owners set up services, staff and hours; owners and staff
view and manage bookings."""

__all__ = ["MANAGE_ROLES", "VIEW_ROLES"]

MANAGE_ROLES = ("owner",)
VIEW_ROLES = ("owner", "staff")
