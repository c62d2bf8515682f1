"""The audit log, read: events newest first, filtered, keyset-paginated on id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.auditlog.schemas import AuditFilter
from app.models import AuditEvent, User


class AuditFilterError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class AuditRow:
    event: AuditEvent
    actor: str | None


@dataclass
class AuditPage:
    rows: list[AuditRow]
    next_before: int | None


def _family(column: Any, name: str, separator: str) -> Any:
    """`column` starts with `name + separator`, as a range an index can serve."""
    after = chr(ord(separator) + 1)
    return and_(column >= name + separator, column < name + after)


def conditions(db: Session, filt: AuditFilter) -> list[Any]:
    conds: list[Any] = []
    if filt.actor.strip():
        actor_id = db.scalar(select(User.id).where(User.username == filt.actor.strip()))
        if actor_id is None:
            raise AuditFilterError(f"No user named {filt.actor.strip()!r}.", "actor")
        conds.append(AuditEvent.actor_id == actor_id)
    kind = filt.kind.strip()
    if kind:
        conds.append(
            AuditEvent.action == kind if "." in kind else _family(AuditEvent.action, kind, ".")
        )
    target = filt.object.strip()
    if target:
        conds.append(
            AuditEvent.target == target
            if ":" in target
            else _family(AuditEvent.target, target, ":")
        )
    if filt.since is not None:
        conds.append(AuditEvent.created_at >= filt.since)
    if filt.until is not None:
        conds.append(AuditEvent.created_at < filt.until)
    if filt.before is not None:
        conds.append(AuditEvent.id < filt.before)
    return conds


def list_events(db: Session, filt: AuditFilter) -> AuditPage:
    """One page of events, newest first."""
    stmt = (
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(*conditions(db, filt))
        .order_by(AuditEvent.id.desc())
        .limit(filt.limit + 1)
    )
    found = list(db.execute(stmt))
    more = len(found) > filt.limit
    rows = [AuditRow(event, name) for event, name in found[: filt.limit]]
    return AuditPage(rows, rows[-1].event.id if more and rows else None)
