"""Users: an owner's team, password changes, and operators."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from kaimen_core import audit, db
from kaimen_core.actors import SYSTEM, Actor
from kaimen_core.auth._limits import new_account_attempt
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


def _flush_unique(session: Session, user: User, usernames: Iterator[str] | None = None) -> None:
    """Add ``user``; when its username is taken, try the next of ``usernames`` (made ones).

    Usernames and emails are unique across Kaimen. The database's unique indexes decide
    (they see every business, whatever row-level security lets a session see).
    """
    while True:
        try:
            with session.begin_nested():
                session.add(user)
            return
        except IntegrityError as exc:
            message = str(exc.orig).lower()
            if "email" in message:
                raise Conflict("An account with that email already exists.") from None
            if "username" not in message:
                raise
            following = next(usernames, None) if usernames is not None else None
            if following is None:
                raise Conflict(f"The username {user.username!r} is already taken.") from None
            user.username = following


def _usernames_from(email: str) -> Iterator[str]:
    """Usernames for someone who did not choose one, made from their email: its local part in
    the username alphabet (at least 3 characters), then that with four random digits."""
    local = re.sub(r"[^a-z0-9._-]+", "-", email.partition("@")[0]).strip("._-")[:24].rstrip("._-")
    base = local if len(local) >= 3 else f"{local}-owner" if local else "owner"
    yield base
    for _ in range(8):
        yield f"{base}-{secrets.randbelow(10_000):04d}"


def new_user(
    session: Session,
    *,
    role: str,
    business_id: int | None,
    username: str | None,
    email: str,
    display_name: str,
    password: str,
    confirm_password: str | None = None,
) -> User:
    """Validate and add a user (no audit: callers record why the user was created).

    Without a ``username`` one is made from the email (sign-up asks for none, so no chosen
    name is checked for a visitor). In a business's session the user can only join that
    business.
    """
    scope = db.scope_of(session)
    if not scope.cross_tenant and business_id != scope.business_id:
        raise PermissionDenied("Users can only be added to your own business.")
    chosen = clean_username(username) if username is not None else None
    address = clean_email(email)
    made = _usernames_from(address) if chosen is None else None
    user = User(
        role=role,
        business_id=business_id,
        username=chosen or next(made),
        email=address,
        display_name=clean_name(display_name, field="display_name", label="Name"),
        password_hash="",
    )
    clean_password(password, confirm=confirm_password)
    user.password_hash = hash_password(password)
    _flush_unique(session, user, made)
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
    *, actor: Actor, username: str, email: str, display_name: str, password: str, engine: Engine | None = None
) -> UserPublic:
    """An owner gives a staff member a sign-in to their business.

    Usernames and emails are unique across Kaimen, so a refusal because one is taken says
    that an account exists elsewhere: such refusals count against the owner's network like
    sign-ups do (:func:`new_account_attempt`), since an owner's account is one sign-up away
    for anyone. Staff added give their count back. Runs in its own transactions.
    """
    actor.require("owner")
    with new_account_attempt(actor=actor, successes_count=False, engine=engine), \
            db.tenant_session(actor, engine=engine) as session:
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
