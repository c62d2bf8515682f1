"""Policy versions: registration of a run's products, promotion and rollback.

Promotion is one transaction: the old active version is archived and the new one becomes
active together, so the sampler (which reads the active version on each refill) switches
without a restart and never sees two active versions or none.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.service import audit
from app.jobs import lock_project
from app.models import Pair, PolicyVersion, RewardModel, utcnow
from app.settings import Settings


class PromotionError(ValueError):
    """The version cannot be promoted; the message says why."""


def active_version(db: Session, project_id: int) -> PolicyVersion | None:
    return db.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project_id, PolicyVersion.status == "active"
        )
    )


def list_versions(db: Session, project_id: int, limit: int = 200) -> list[PolicyVersion]:
    """Newest first (a project has tens of versions, not thousands; still capped)."""
    return list(
        db.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.project_id == project_id)
            .order_by(PolicyVersion.number.desc())
            .limit(limit)
        )
    )


def latest_reward_model(db: Session, project_id: int) -> RewardModel | None:
    return db.scalar(
        select(RewardModel)
        .where(RewardModel.project_id == project_id)
        .order_by(RewardModel.id.desc())
        .limit(1)
    )


def next_number(db: Session, project_id: int) -> int:
    """The next version number; callers hold the project lock (`app.jobs.lock_project`)."""
    current = db.scalar(
        select(func.max(PolicyVersion.number)).where(PolicyVersion.project_id == project_id)
    )
    return 0 if current is None else current + 1


def register_reward_model(
    db: Session, project_id: int, run_id: int, uri: str, base_model: str, metrics: dict[str, Any]
) -> RewardModel:
    """Record a trained reward model (unique per run: a retried run cannot add a second)."""
    model = RewardModel(
        project_id=project_id,
        checkpoint_uri=uri,
        base_model=base_model,
        training_run_id=run_id,
        metrics=metrics,
    )
    db.add(model)
    db.flush()
    return model


def register_candidate(
    db: Session,
    project_id: int,
    run_id: int,
    number: int,
    uri: str,
    base_model: str,
    metrics: dict[str, Any],
) -> PolicyVersion:
    """Record a candidate version whose parent is the currently active one."""
    parent = active_version(db, project_id)
    version = PolicyVersion(
        project_id=project_id,
        number=number,
        parent_id=parent.id if parent else None,
        checkpoint_uri=uri,
        base_model=base_model,
        status="candidate",
        training_run_id=run_id,
        metrics=metrics,
    )
    db.add(version)
    db.flush()
    return version


def promote(
    db: Session,
    settings: Settings,
    version: PolicyVersion,
    actor_id: int | None,
    *,
    reason: str = "manual",
) -> PolicyVersion:
    """Make `version` the active one; the previous active version is archived."""
    lock_project(db, version.project_id)
    db.refresh(version)
    if version.status == "active":
        raise PromotionError(f"Version {version.number} is already active.")
    previous = active_version(db, version.project_id)
    if previous is not None:
        previous.status = "archived"
        # Flush first: a partial unique index may one day allow only one active per project.
        db.flush()
        if settings.retire_old_pairs_on_promote:
            db.execute(
                update(Pair)
                .where(Pair.policy_version_id == previous.id, Pair.status == "open")
                .values(status="retired")
                .execution_options(synchronize_session=False)
            )
    before = version.status
    version.status = "active"
    version.promoted_at = utcnow()
    db.flush()
    audit(
        db,
        "policy.rollback" if before == "archived" else "policy.promoted",
        actor_id,
        f"policy_version:{version.id}",
        project_id=version.project_id,
        number=version.number,
        previous=previous.number if previous else None,
        reason=reason,
    )
    db.flush()
    return version


def rollback_targets(db: Session, project_id: int) -> list[PolicyVersion]:
    """Earlier versions that rollback can return to (archived ones)."""
    return [v for v in list_versions(db, project_id) if v.status == "archived"]
