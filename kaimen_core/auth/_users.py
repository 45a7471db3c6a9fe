"""Users: an owner's team, password changes, and operators."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM, Actor
from kaimen_core.auth._passwords import hash_password, verify_password
from kaimen_core.auth._sessions import revoke_sessions
from kaimen_core.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from kaimen_core.models import User, UserPublic, utcnow
from kaimen_core.validators import clean_email, clean_name, clean_password, clean_username

__all__ = [
    "add_staff_user",
    "change_password",
    "create_operator",
    "list_users",
    "new_user",
    "remove_user",
]


def _flush_unique(session: Session, user: User) -> None:
    # Usernames and emails are unique across Kaimen. The database's unique indexes
    # decide (they see every business, whatever row-level security lets a session see).
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "email" in message:
            raise Conflict("An account with that email already exists.") from None
        if "username" in message:
            raise Conflict(f"The username {user.username!r} is already taken.") from None
        raise


def new_user(
    session: Session,
    *,
    role: str,
    business_id: int | None,
    username: str,
    email: str,
    display_name: str,
    password: str,
    confirm_password: str | None = None,
) -> User:
    """Validate and add a user (no audit: callers record why the user was created).

    In a business's session the user can only join that business.
    """
    scope = db.scope_of(session)
    if not scope.cross_tenant and business_id != scope.business_id:
        raise PermissionDenied("Users can only be added to your own business.")
    user = User(
        role=role,
        business_id=business_id,
        username=clean_username(username),
        email=clean_email(email),
        display_name=clean_name(display_name, field="display_name", label="Name"),
        password_hash="",
    )
    clean_password(password, confirm=confirm_password)
    user.password_hash = hash_password(password)
    _flush_unique(session, user)
    return user


def list_users(session: Session, *, actor: Actor, include_removed: bool = False) -> list[UserPublic]:
    """The owner's team: every user of the actor's business."""
    actor.require("owner")
    query = select(User).where(User.business_id == actor.business_id)
    if not include_removed:
        query = query.where(col(User.removed_at).is_(None))
    users = session.exec(query.order_by(col(User.role) != "owner", col(User.username)))  # owners first
    return [UserPublic.model_validate(user, from_attributes=True) for user in users]


def add_staff_user(
    session: Session, *, actor: Actor, username: str, email: str, display_name: str, password: str
) -> UserPublic:
    """An owner gives a staff member a sign-in to their business."""
    actor.require("owner")
    user = new_user(
        session,
        role="staff",
        business_id=actor.business_id,
        username=username,
        email=email,
        display_name=display_name,
        password=password,
    )
    audit.record(session, actor=actor, action="user.added", target_type="user", target_id=user.id,
                 detail={"role": "staff"})
    return UserPublic.model_validate(user, from_attributes=True)


def remove_user(session: Session, *, actor: Actor, user_id: int) -> None:
    """An owner removes a staff user: sign-in stops at once, history keeps the id."""
    actor.require("owner")
    user = db.owned(session, User, user_id, actor=actor)
    if user.removed_at is not None:
        raise NotFound("No such user.")
    if user.id == actor.user_id:
        raise PermissionDenied("You cannot remove yourself.")
    if user.role == "owner":
        owners = session.exec(
            select(func.count()).select_from(User).where(
                User.business_id == actor.business_id, User.role == "owner", col(User.removed_at).is_(None)
            )
        ).one()
        if owners <= 1:
            raise PermissionDenied("A business must keep at least one owner.")
    user.removed_at = utcnow()
    session.add(user)
    revoked = revoke_sessions(session, user_id=user.id, reason="user_removed")
    audit.record(session, actor=actor, action="user.removed", target_type="user", target_id=user.id,
                 detail={"role": user.role, "sessions_revoked": revoked})


def change_password(
    session: Session, *, actor: Actor, current_password: str, new_password: str, confirm_password: str
) -> int:
    """Change the actor's own password; every other session of theirs is signed out.

    Returns how many other sessions were signed out.
    """
    if actor.user_id is None:
        raise PermissionDenied("Only a signed-in user has a password.")
    if actor.is_operator:
        # An operator's own row and sessions belong to no business, so only the
        # cross-business scope can see them (row-level security on PostgreSQL).
        db.enter_operator_scope(session, actor)
    user = session.exec(select(User).where(User.id == actor.user_id)).first()
    if user is None:
        raise NotFound("No such user.")
    if not verify_password(current_password or "", user.password_hash):
        raise ValidationError("The current password is incorrect.", field="current_password")
    clean_password(new_password, confirm=confirm_password)
    if new_password == current_password:
        raise ValidationError("The new password must differ from the current one.", field="password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.add(user)
    revoked = revoke_sessions(
        session, user_id=user.id, reason="password_changed", keep_session_id=actor.session_id
    )
    audit.record(session, actor=actor, action="auth.password_changed", target_type="user",
                 target_id=user.id, detail={"sessions_revoked": revoked})
    return revoked


def create_operator(
    *, username: str, email: str, display_name: str, password: str, engine: Engine | None = None
) -> UserPublic:
    """Create a Kaimen operator (command line only; no page can do this)."""
    with db.system_session(engine=engine) as session:
        user = new_user(
            session,
            role="operator",
            business_id=None,
            username=username,
            email=email,
            display_name=display_name,
            password=password,
        )
        audit.record(session, actor=SYSTEM, action="user.added", target_type="user",
                     target_id=user.id, detail={"role": "operator", "via": "command_line"})
        return UserPublic.model_validate(user, from_attributes=True)
