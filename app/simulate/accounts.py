"""Simulated evaluator accounts: marked `simulated`, members of the project, one API token each."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import AccountError, create_api_token, create_user, user_by_name
from app.models import ApiToken, Project, User, UserRole, utcnow
from app.projects.service import add_member
from app.settings import Settings

TOKEN_NAME = "simulate"  # noqa: S105 - a label, not a secret


def _account(db: Session, settings: Settings, username: str) -> User:
    user = user_by_name(db, username)
    if user is None:
        # Nobody logs in with the password; it only has to satisfy the policy.
        password = secrets.token_urlsafe(24)
        return create_user(db, settings, username, password, {"evaluator"}, simulated=True)
    if not user.simulated:
        raise AccountError(
            f"account {username!r} exists and is a real account; choose another --prefix"
        )
    user.active = True
    if "evaluator" not in user.roles:
        user.role_rows.append(UserRole(role="evaluator"))
    return user


def simulated_evaluators(
    db: Session, settings: Settings, project: Project, count: int, prefix: str = "sim"
) -> list[tuple[str, str]]:
    """Create or reuse `count` simulated evaluators; (username, fresh API token) for each."""
    out = []
    for k in range(1, count + 1):
        user = _account(db, settings, f"{prefix}-{k:03d}")
        add_member(db, project, user)
        # Tokens from earlier runs are revoked so they do not pile up.
        for token in db.scalars(
            select(ApiToken).where(
                ApiToken.user_id == user.id,
                ApiToken.name == TOKEN_NAME,
                ApiToken.revoked_at.is_(None),
            )
        ):
            token.revoked_at = utcnow()
        secret, _ = create_api_token(db, user, TOKEN_NAME)
        out.append((user.username, secret))
    return out
