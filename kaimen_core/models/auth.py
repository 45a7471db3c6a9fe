"""Users, their signed-in sessions, and the attempts that drive lockout and the per-network limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from kaimen_core.models._types import BigId, one_of, utcnow

__all__ = ["NETWORK_ACTIONS", "ROLES", "LoginAttempt", "NetworkAttempt", "User", "UserBase", "UserPublic",
           "UserSession"]

ROLES = ("owner", "staff", "operator")
#: What the per-network limits count: failed sign-ins, and attempts to create an account.
NETWORK_ACTIONS = ("sign_in", "new_account")


class UserBase(SQLModel):
    """Who a person is in Kaimen."""

    username: str = Field(max_length=32, description="lower case; letters, digits, . _ -")
    email: str = Field(max_length=254, description="lower case")
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)


class User(UserBase, table=True):
    """A person who signs in: a business's owner or staff, or a Kaimen operator."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", ROLES), name="user_role_known"),
        CheckConstraint(
            "(role = 'operator' AND business_id IS NULL) OR "
            "(role <> 'operator' AND business_id IS NOT NULL)",
            name="user_business_matches_role",
        ),
        Index("ix_users_business_id", "business_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    business_id: int | None = Field(
        default=None, foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId
    )
    username: str = Field(max_length=32, unique=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=100)
    password_changed_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = Field(default=None, description="set when an owner removes the user")


class UserPublic(UserBase):
    """A user as pages show it (never the password hash)."""

    id: int
    business_id: int | None
    created_at: datetime
    removed_at: datetime | None


class UserSession(SQLModel, table=True):
    """One sign-in: the browser holds the token, the database holds its hash and state."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=BigId)
    business_id: int | None = Field(
        default=None, foreign_key="businesses.id", ondelete="CASCADE", sa_type=BigId
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=40)
    ip_address: str | None = Field(default=None, max_length=45)
    user_agent: str | None = Field(default=None, max_length=300)


class LoginAttempt(SQLModel, table=True):
    """A sign-in attempt, keyed by a hash of the username typed (which may be anything)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        CheckConstraint(one_of("outcome", ("success", "failure", "locked")), name="login_outcome_known"),
        Index("ix_login_attempts_username_created", "username_hash", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    username_hash: str = Field(max_length=64)
    outcome: str = Field(max_length=8)
    ip_address: str | None = Field(default=None, max_length=45)
    created_at: datetime = Field(default_factory=utcnow)


class NetworkAttempt(SQLModel, table=True):
    """An attempt counted against a network's limit, or the refusal that followed (the per-network limits).

    The network (an IPv4 address, or the /64 an IPv6 address is in) is kept only as a keyed
    hash, so the table holds no address.
    """

    __tablename__ = "network_attempts"
    __table_args__ = (
        CheckConstraint(one_of("action", NETWORK_ACTIONS), name="network_action_known"),
        Index("ix_network_attempts_network_created", "action", "network_hash", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    action: str = Field(max_length=16)
    network_hash: str = Field(max_length=64)
    refused: bool = Field(default=False, description="the first refusal of a block, audited once")
    created_at: datetime = Field(default_factory=utcnow)
