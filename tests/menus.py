"""The navigation each role gets, in one place for the page and browser tests."""

OWNER_MENU = {
    "Business": ["Home", "Calendar", "Customers", "Inbox"],
    "Manage": ["Team", "Staff", "Services and hours", "Settings", "Messaging", "Import customers",
               "Privacy requests", "Audit log"],
    "You": ["Account"],
}
STAFF_MENU = {"Business": ["Home", "Calendar", "Customers", "Inbox"], "You": ["Account"]}
OPERATOR_MENU = {
    "Platform": ["Home", "Businesses", "Messaging rules", "Privacy deletions", "Webhook events", "Audit log"],
    "You": ["Account"],
}
#: Page files only owners may open.
OWNER_ONLY_PAGES = ["team", "staff", "services", "settings", "messaging_settings", "customer_import", "privacy",
                    "audit_log"]
#: Page files only operators may open.
OPERATOR_ONLY_PAGES = ["businesses", "messaging_rules", "privacy_operations", "webhook_events"]


def titles(menu: dict[str, list[str]]) -> list[str]:
    """The menu's page titles in order, as the sidebar lists them."""
    return [title for section in menu.values() for title in section]
