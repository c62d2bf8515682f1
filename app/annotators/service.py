"""Annotator accounts: create, invite, roles, deactivate (leases released), password reset."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.passwords import check_policy, hash_password
from app.auth.service import (
    AccountError,
    audit,
    create_user,
    deactivate,
    end_all_credentials,
    ensure_username_free,
    sha256,
    validate_username,
)
from app.models import ROLES, Comparison, Invitation, Project, User, utcnow
from app.projects.service import add_member
from app.settings import Settings


@dataclass
class AnnotatorRow:
    user: User
    labels: int


def list_annotators(db: Session, project_id: int | None) -> list[AnnotatorRow]:
    """Every account (real ones first) with its label count in the project."""
    users = list(db.scalars(select(User).order_by(User.simulated, User.username)))
    stmt = (
        select(Comparison.user_id, func.count()).where(Comparison.live).group_by(Comparison.user_id)
    )
    if project_id is not None:
        stmt = stmt.where(Comparison.project_id == project_id)
    counts: dict[int, int] = dict(db.execute(stmt).all())  # type: ignore[arg-type]
    return [AnnotatorRow(u, counts.get(u.id, 0)) for u in users]


def create_account(
    db: Session,
    settings: Settings,
    username: str,
    password: str,
    roles: set[str],
    project: Project | None,
    actor_id: int | None,
) -> User:
    """An account with a password the admin hands over; a member of `project`."""
    user = create_user(db, settings, username, password, roles)
    if project is not None:
        add_member(db, project, user)
    audit(db, "user.created", actor_id, f"user:{user.id}", roles=sorted(roles))
    return user


def _revoke_others(db: Session, inv: Invitation) -> None:
    """Every other outstanding link for the same person (account or invited name) stops
    working: only the newest link issued, or the one just used, counts."""
    same_person = Invitation.username == inv.username
    if inv.user_id is not None:
        same_person = same_person | (Invitation.user_id == inv.user_id)
    db.execute(
        update(Invitation)
        .where(
            same_person,
            Invitation.id != inv.id,
            Invitation.used_at.is_(None),
            Invitation.revoked.is_(False),
        )
        .values(revoked=True)
    )


def _link(
    db: Session,
    settings: Settings,
    *,
    kind: str,
    username: str,
    roles: list[str],
    project_id: int | None,
    user_id: int | None,
    actor_id: int | None,
) -> tuple[str, Invitation]:
    token = secrets.token_urlsafe(32)
    inv = Invitation(
        token_hash=sha256(token),
        kind=kind,
        username=username,
        roles=roles,
        project_id=project_id,
        user_id=user_id,
        created_by_id=actor_id,
        expires_at=utcnow() + timedelta(hours=settings.invitation_hours),
    )
    db.add(inv)
    db.flush()
    _revoke_others(db, inv)
    return token, inv


def invite(
    db: Session,
    settings: Settings,
    username: str,
    roles: set[str],
    project: Project | None,
    actor_id: int | None,
) -> str:
    """A one-time, expiring invitation; returns the token (only its hash is stored)."""
    username = validate_username(username)
    unknown = roles - set(ROLES)
    if unknown:
        raise AccountError(f"Unknown role(s): {', '.join(sorted(unknown))}.")
    ensure_username_free(db, username)
    token, inv = _link(
        db,
        settings,
        kind="invite",
        username=username,
        roles=sorted(roles),
        project_id=project.id if project else None,
        user_id=None,
        actor_id=actor_id,
    )
    audit(db, "invitation.created", actor_id, f"invitation:{inv.id}", username=username)
    return token


def reset_link(db: Session, settings: Settings, user: User, actor_id: int | None) -> str:
    """A one-time, expiring link with which the user sets a new password."""
    token, inv = _link(
        db,
        settings,
        kind="reset",
        username=user.username,
        roles=[],
        project_id=None,
        user_id=user.id,
        actor_id=actor_id,
    )
    audit(db, "password.reset_link", actor_id, f"user:{user.id}", invitation=inv.id)
    return token


def find_link(db: Session, token: str) -> Invitation:
    """The usable invitation for a token; AccountError says why one is not usable."""
    inv = db.scalar(select(Invitation).where(Invitation.token_hash == sha256(token)))
    if inv is None or inv.revoked:
        raise AccountError("This link is not valid. Ask an admin for a new one.")
    if inv.used_at is not None:
        raise AccountError("This link has already been used. Ask an admin for a new one.")
    if utcnow() >= inv.expires_at:
        raise AccountError("This link has expired. Ask an admin for a new one.")
    return inv


def accept_link(db: Session, settings: Settings, token: str, password: str) -> User:
    """Use a link once: create the invited account, or set the new password."""
    inv = find_link(db, token)
    check_policy(password, settings, inv.username)
    if inv.kind == "invite":
        user = create_user(db, settings, inv.username, password, set(inv.roles))
        project = db.get(Project, inv.project_id) if inv.project_id else None
        if project is not None:
            add_member(db, project, user)
        inv.user_id = user.id
    else:
        found = db.get(User, inv.user_id) if inv.user_id else None
        if found is None or not found.active:
            raise AccountError("This account is no longer active.")
        user = found
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
        end_all_credentials(db, user.id, user.id)
    inv.used_at = utcnow()
    _revoke_others(db, inv)
    audit(db, f"invitation.used.{inv.kind}", user.id, f"user:{user.id}", invitation=inv.id)
    return user


def deactivate_annotator(db: Session, user: User, actor_id: int | None) -> int:
    """Sessions end and open leases are released at once; labels stay. Returns leases freed."""
    if user.id == actor_id:
        raise AccountError("You cannot deactivate your own account.")
    return deactivate(db, user, actor_id)


def reactivate(db: Session, user: User, actor_id: int | None) -> None:
    user.active = True
    audit(db, "user.reactivated", actor_id, f"user:{user.id}")
