"""Ending a person's open leases the moment they lose the right to label.

Removal from a project, deactivation and a role change that drops `evaluator` all call
`release_leases`, so the pairs return to the pool at once instead of waiting for expiry.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.models import Assignment, Pair


def release_leases(
    db: Session, user_id: int, actor_id: int | None, *, project_id: int | None = None
) -> int:
    """Mark the user's leased assignments (in one project, or all) released; returns how many."""
    stmt = update(Assignment).where(Assignment.user_id == user_id, Assignment.status == "leased")
    if project_id is not None:
        in_project = select(Pair.id).where(Pair.project_id == project_id)
        stmt = stmt.where(Assignment.pair_id.in_(in_project))
    result = db.execute(stmt.values(status="released"))
    released = int(result.rowcount or 0)  # type: ignore[attr-defined]
    target = f"user:{user_id}"
    audit(db, "leases.released", actor_id, target, released=released, project=project_id)
    return released
