"""Password hashing with argon2id (argon2-cffi) and the policy: a length range, not a common
password, not the username or the product's name (no composition rules, as ASVS asks)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.settings import Settings

_hasher = PasswordHasher()  # argon2id with the library's maintained defaults
# Hash of a random password, verified against when the user does not exist, so a
# wrong username costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-8c3f")


class PasswordPolicyError(ValueError):
    pass


COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")
PRODUCT_WORDS = ("pairwise",)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The bundled list of common (breached) passwords, casefolded."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_policy(password: str, settings: Settings, username: str | None = None) -> None:
    """PasswordPolicyError saying what is wrong with `password` for the account `username`."""
    if len(password) < settings.password_min_length:
        raise PasswordPolicyError(
            f"Password must be at least {settings.password_min_length} characters."
        )
    if len(password) > settings.password_max_length:
        raise PasswordPolicyError(
            f"Password must be at most {settings.password_max_length} characters."
        )
    folded = password.casefold()
    if folded in common_passwords():
        raise PasswordPolicyError(
            "That password is one of the most common ones (found in breached-password lists); "
            "choose another."
        )
    # "alice2024!" for alice, "Pairwise1" anywhere: the letters alone are a context word.
    letters = "".join(c for c in folded if c.isalpha())
    context = {*PRODUCT_WORDS, "".join(c for c in (username or "").casefold() if c.isalpha())}
    if folded == (username or "").casefold() or (letters and letters in context):
        raise PasswordPolicyError(
            "The password is too close to the username or the product's name; choose another."
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
