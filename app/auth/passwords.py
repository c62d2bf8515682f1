"""Password hashing with argon2id (argon2-cffi) and the length policy (no composition rules)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings

_hasher = PasswordHasher()  # argon2id with the library's maintained defaults
# Hash of a random password, verified against when the user does not exist, so a
# wrong username costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-8c3f")


class PasswordPolicyError(ValueError):
    pass


def check_policy(password: str, settings: Settings) -> None:
    if len(password) < settings.password_min_length:
        raise PasswordPolicyError(
            f"Password must be at least {settings.password_min_length} characters."
        )
    if len(password) > settings.password_max_length:
        raise PasswordPolicyError(
            f"Password must be at most {settings.password_max_length} characters."
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
