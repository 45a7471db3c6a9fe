"""Who is acting: a signed-in user, or the system itself, and where the request came from."""

from __future__ import annotations

from dataclasses import dataclass, field

from kaimen_core.exceptions import PermissionDenied

__all__ = ["SYSTEM", "Actor", "Origin"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, as recorded in the audit log."""

    ip_address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """The acting user (or the system). Every tenant-data function takes one.

    Owners and staff belong to exactly one business; operators belong to none and reach
    businesses only through operator functions, which are audited.
    """

    role: str
    user_id: int | None = None
    business_id: int | None = None
    username: str = "system"
    display_name: str = "Kaimen"
    session_id: int | None = None
    origin: Origin = field(default_factory=Origin)

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    @property
    def label(self) -> str:
        """How the audit log names this actor (a role and a username, never a person's name)."""
        return "system" if self.is_system else f"{self.role}:{self.username}"

    def require(self, *roles: str) -> None:
        """Raise PermissionDenied unless the actor has one of ``roles``."""
        if self.role not in roles:
            allowed = " or ".join(roles)
            raise PermissionDenied(f"Only {allowed} users can do this.")

    def with_origin(self, origin: Origin) -> Actor:
        """The same actor, seen coming from ``origin``."""
        return Actor(
            role=self.role,
            user_id=self.user_id,
            business_id=self.business_id,
            username=self.username,
            display_name=self.display_name,
            session_id=self.session_id,
            origin=origin,
        )


#: Kaimen itself: migrations, the worker, sign-in look-ups, webhook routing.
SYSTEM = Actor(role="system")
