"""Accounts, sessions and API tokens. Services take the session first and never commit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, joinedload

from app.auth.passwords import check_policy, hash_password, verify_password
from app.auth.usernames import look_alike, normalize_username
from app.domain.audit import audit
from app.domain.leases import release_leases
from app.models import ROLES, ApiToken, User, UserRole, UserSession, utcnow
from app.settings import Settings

USERNAME_MAX = 64
TOKEN_PREFIX = "pw_"  # noqa: S105 - a public prefix, not a secret


class AccountError(ValueError):
    """Bad input for an account operation; the message is shown to the user."""


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def validate_username(username: str) -> str:
    """The normal form (`normalize_username`) of a name a new account may take."""
    username = normalize_username(username)
    if not username:
        raise AccountError("Username must not be empty.")
    if len(username) > USERNAME_MAX:
        raise AccountError(f"Username must be at most {USERNAME_MAX} characters.")
    if not all(c.isalnum() or c in "._-@" for c in username):
        raise AccountError("Username may use letters, digits and . _ - @ only.")
    return username


def ensure_username_free(db: Session, username: str) -> None:
    """AccountError when `username` is taken or looks like a name that is (`аdmin`, `Admin`)."""
    taken = look_alike(username, db.scalars(select(User.username)))
    if taken == username:
        raise AccountError(f"Username {username!r} is taken.")
    if taken is not None:
        raise AccountError(
            f"Username {username!r} looks like the existing account {taken!r}; choose another."
        )


def create_user(
    db: Session, settings: Settings, username: str, password: str, roles: set[str], **extra: Any
) -> User:
    """Create an account; raises AccountError for a bad name, password or role."""
    username = validate_username(username)
    check_policy(password, settings, username)
    unknown = roles - set(ROLES)
    if unknown:
        raise AccountError(f"Unknown role(s): {', '.join(sorted(unknown))}.")
    ensure_username_free(db, username)
    user = User(username=username, password_hash=hash_password(password), active=True, **extra)
    user.role_rows = [UserRole(role=r) for r in sorted(roles)]
    db.add(user)
    db.flush()
    return user


def set_roles(db: Session, user: User, roles: set[str], actor_id: int | None) -> None:
    """Replace the account's roles (audited); nobody changes their own: admin and ML staff
    are separate duties, so granting or dropping one's own role needs another admin."""
    if actor_id is not None and actor_id == user.id:
        raise AccountError("You cannot change your own roles; ask another admin.")
    unknown = roles - set(ROLES)
    if unknown:
        raise AccountError(f"Unknown role(s): {', '.join(sorted(unknown))}.")
    before = sorted(user.roles)
    user.role_rows = [UserRole(role=r) for r in sorted(roles)]
    audit(db, "roles.changed", actor_id, f"user:{user.id}", before=before, after=sorted(roles))
    if "evaluator" in before and "evaluator" not in roles:
        release_leases(db, user.id, actor_id)


def user_by_name(db: Session, username: str) -> User | None:
    """The account a typed name names, compared in normal form (`normalize_username`)."""
    name = normalize_username(username)
    if not name or len(name) > USERNAME_MAX:
        return None
    return db.scalar(select(User).where(User.username == name))


def authenticate(db: Session, username: str, password: str) -> User | None:
    user = user_by_name(db, username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    return user


def change_password(db: Session, settings: Settings, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise AccountError("Current password is wrong.")
    check_policy(new, settings, user.username)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_all_credentials(db, user.id, user.id)
    audit(db, "password.changed", user.id, f"user:{user.id}")


@dataclass(frozen=True)
class NewSession:
    token: str
    record: UserSession


def start_session(db: Session, settings: Settings, user: User, ip: str | None) -> NewSession:
    """A fresh random session id (256 bits) for every login: ids rotate at login."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = UserSession(
        token_hash=sha256(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
    )
    db.add(record)
    db.flush()
    return NewSession(token, record)


def resolve_session(db: Session, settings: Settings, token: str) -> UserSession | None:
    """The live session for a cookie value, with its idle timer refreshed; None if expired."""
    record = db.scalar(select(UserSession).where(UserSession.token_hash == sha256(token)))
    if record is None:
        return None
    now = utcnow()
    idle_limit = record.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= record.expires_at or now >= idle_limit:
        db.delete(record)
        return None
    # Write the idle timer at most once a minute, not on every request.
    if now - record.last_seen_at > timedelta(minutes=1):
        record.last_seen_at = now
    return record


def end_session(db: Session, token: str) -> None:
    db.execute(delete(UserSession).where(UserSession.token_hash == sha256(token)))


def end_all_sessions(db: Session, user_id: int) -> None:
    db.execute(delete(UserSession).where(UserSession.user_id == user_id))


def revoke_all_api_tokens(db: Session, user_id: int, actor_id: int | None) -> int:
    """Every live token of the user revoked for good (reactivation does not revive them)."""
    result = db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    revoked = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if revoked:
        audit(db, "token.revoked_all", actor_id, f"user:{user_id}", revoked=revoked)
    return revoked


def end_all_credentials(db: Session, user_id: int, actor_id: int | None) -> None:
    """Sessions and API tokens both end: after a password change or reset, deactivation."""
    end_all_sessions(db, user_id)
    revoke_all_api_tokens(db, user_id, actor_id)


def create_api_token(db: Session, user: User, name: str) -> tuple[str, ApiToken]:
    """Returns the plaintext once; only its hash is stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("Token name must be 1 to 100 characters.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=secret[:10], token_hash=sha256(secret))
    db.add(token)
    db.flush()
    audit(db, "token.created", user.id, f"token:{token.id}", name=name)
    return secret, token


# "Last used" is shown to the minute: writing it on every request would turn each API read
# into a write (on SQLite, a wait for the database write lock).
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


# Built once (every API request runs it); the roles come in the same round trip, since every
# API request checks them.
_TOKEN_AND_OWNER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .options(joinedload(User.role_rows))
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)


def resolve_api_token(db: Session, secret: str) -> User | None:
    """The active owner of an unrevoked token, roles loaded (one query), else None."""
    row = db.execute(_TOKEN_AND_OWNER, {"token_hash": sha256(secret)}).unique().first()
    if row is None:
        return None
    token, user = row
    if not user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        token.last_used_at = now
    return user


def revoke_api_token(db: Session, user: User, token_id: int) -> bool:
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit(db, "token.revoked", user.id, f"token:{token.id}")
    return True


def list_api_tokens(db: Session, user: User) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(db.scalars(stmt))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected, given)


def deactivate(db: Session, user: User, actor_id: int | None) -> int:
    """Sessions end and open leases are released at once; returns the leases freed."""
    user.active = False
    end_all_credentials(db, user.id, actor_id)
    audit(db, "user.deactivated", actor_id, f"user:{user.id}")
    return release_leases(db, user.id, actor_id)
