"""The audit log's one writer: an event added in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEvent


def audit(
    db: Session,
    action: str,
    actor_id: int | None = None,
    target: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> None:
    """Record an audit event in the caller's transaction."""
    db.add(AuditEvent(actor_id=actor_id, action=action, target=target, ip=ip, details=details))
