"""Password hashing with bcrypt."""

from __future__ import annotations

from functools import lru_cache

import bcrypt

from kaimen_core.config import get_settings

__all__ = ["hash_password", "verify_password", "waste_a_check"]


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` (already validated: at most 72 bytes)."""
    salt = bcrypt.gensalt(rounds=get_settings().bcrypt_rounds)
    return bcrypt.hashpw(password.encode(), salt).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches; False for anything malformed."""
    try:
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    except ValueError:
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-for-timing")


def waste_a_check(password: str) -> None:
    """Spend the time a real check takes, so unknown usernames cannot be told apart by timing."""
    verify_password(password, _dummy_hash())
