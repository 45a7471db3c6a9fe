"""Users, roles, password hashing, lockout, per-network limits, and the signed-in actor."""

from kaimen_core.auth._limits import (
    NEW_ACCOUNTS_PER_NETWORK,
    SIGN_IN_PER_NETWORK,
    NetworkLimit,
    new_account_attempt,
    purge_network_attempts,
    visitor,
)
from kaimen_core.auth._passwords import hash_password, verify_password
from kaimen_core.auth._sessions import (
    LOCKOUT_ATTEMPTS,
    LOCKOUT_WINDOW,
    SignedIn,
    actor_for,
    open_session,
    resolve_session,
    revoke_sessions,
    sign_in,
    sign_out,
)
from kaimen_core.auth._users import (
    add_staff_user,
    change_password,
    create_operator,
    list_users,
    new_user,
    remove_user,
)

__all__ = [
    "LOCKOUT_ATTEMPTS",
    "LOCKOUT_WINDOW",
    "NEW_ACCOUNTS_PER_NETWORK",
    "SIGN_IN_PER_NETWORK",
    "NetworkLimit",
    "SignedIn",
    "actor_for",
    "add_staff_user",
    "change_password",
    "create_operator",
    "hash_password",
    "list_users",
    "new_account_attempt",
    "new_user",
    "open_session",
    "purge_network_attempts",
    "remove_user",
    "resolve_session",
    "revoke_sessions",
    "sign_in",
    "sign_out",
    "verify_password",
    "visitor",
]
