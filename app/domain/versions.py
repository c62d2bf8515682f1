"""The policy-version and reward-model lifecycle: the one home of every rule about them.

A project's policy starts as version 0 (the configured base model, converted once into
the model store); each training run may register a reward model and a candidate version,
which is promoted (the previous active one is archived), rejected (its gates failed),
put on trial (the project's promotion is `human_trial`: evaluators' head-to-head votes
against the active version decide, `app.domain.trial`) or left for ML staff. Promotion
and rollback are one transaction: the sampler, which reads the active version on each
refill, switches without a restart and never sees two active versions or none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.domain.base_model import ensure_checkpoint
from app.domain.jobs import lock_project
from app.domain.store import ModelStore
from app.models import Pair, PlaygroundMatch, PolicyVersion, Project, RewardModel, utcnow
from app.settings import Settings

log = logging.getLogger(__name__)

MAX_NOTE = 500  # characters of the reason ML staff give for ending a trial by hand


class PromotionError(ValueError):
    """The version cannot be promoted; the message says why."""


@dataclass(frozen=True)
class VersionRef:
    """A policy version detached from any database session (what the sampler holds)."""

    id: int
    project_id: int
    number: int
    checkpoint_uri: str

    @classmethod
    def of(cls, version: PolicyVersion) -> VersionRef:
        return cls(version.id, version.project_id, version.number, version.checkpoint_uri)


# --- reading --------------------------------------------------------------------------------


def active_version(db: Session, project_id: int) -> PolicyVersion | None:
    """The project's active policy version (the newest, should there ever be several)."""
    return db.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.project_id == project_id, PolicyVersion.status == "active")
        .order_by(PolicyVersion.number.desc())
        .limit(1)
    )


def active_ref(db: Session, project_id: int) -> VersionRef | None:
    """`active_version`, detached from the session."""
    version = active_version(db, project_id)
    return VersionRef.of(version) if version is not None else None


def has_versions(db: Session, project_id: int) -> bool:
    """Whether the project has any policy version at all (else version 0 is due)."""
    found = db.scalar(select(PolicyVersion.id).where(PolicyVersion.project_id == project_id))
    return found is not None


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


def newest_reward_model(db: Session, project_id: int) -> RewardModel | None:
    """The project's most recently trained reward model."""
    return db.scalar(
        select(RewardModel)
        .where(RewardModel.project_id == project_id)
        .order_by(RewardModel.id.desc())
        .limit(1)
    )


def next_number(db: Session, project_id: int) -> int:
    """The next version number; callers hold the project lock (`jobs.lock_project`)."""
    current = db.scalar(
        select(func.max(PolicyVersion.number)).where(PolicyVersion.project_id == project_id)
    )
    return 0 if current is None else current + 1


def trial_version(db: Session, project_id: int) -> PolicyVersion | None:
    """The project's version on trial, if any (at most one at a time)."""
    return db.scalar(
        select(PolicyVersion)
        .where(PolicyVersion.project_id == project_id, PolicyVersion.status == "trial")
        .order_by(PolicyVersion.number.desc())
        .limit(1)
    )


def played_since(db: Session, project_id: int, since: datetime) -> list[PolicyVersion]:
    """The versions of the project that playground matches or battles started since `since`
    put on either side, by number."""
    played = exists().where(
        PlaygroundMatch.project_id == project_id,
        PlaygroundMatch.created_at >= since,
        or_(
            PlaygroundMatch.version_a_id == PolicyVersion.id,
            PlaygroundMatch.version_b_id == PolicyVersion.id,
        ),
    )
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.project_id == project_id, played)
        .order_by(PolicyVersion.number)
    )
    return list(db.scalars(stmt))


def rollback_targets(db: Session, project_id: int) -> list[PolicyVersion]:
    """Earlier versions that rollback can return to (archived ones)."""
    return [v for v in list_versions(db, project_id) if v.status == "archived"]


# --- version 0 ------------------------------------------------------------------------------


def version_zero(db: Session, project_id: int) -> PolicyVersion | None:
    return db.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project_id, PolicyVersion.number == 0
        )
    )


def register_version_zero(db: Session, project: Project, source: str) -> PolicyVersion:
    """The version-0 row (active unless another version is), registered once.

    Its checkpoint URI is where `ensure_version_zero` converts the base model; a row
    registered before that (a gold import into a new project) is filled on first use.
    Race-safe through the unique (project_id, number) constraint.
    """
    existing = version_zero(db, project.id)
    if existing is not None:
        return existing
    has_active = active_version(db, project.id) is not None
    version = PolicyVersion(
        project_id=project.id,
        number=0,
        checkpoint_uri=ModelStore.policy_uri(project.id, 0),
        base_model=source[:300],
        status="archived" if has_active else "active",
        promoted_at=None if has_active else utcnow(),
    )
    try:
        with db.begin_nested():
            db.add(version)
    except IntegrityError:
        # Another process registered it between our read and our insert.
        found = version_zero(db, project.id)
        if found is None:
            raise
        return found
    return version


def ensure_version_zero(
    db: Session,
    settings: Settings,
    project: Project,
    store: ModelStore,
    source: str | None = None,
) -> PolicyVersion:
    """Version 0 of `project`'s policy, converting and registering it the first time.

    The conversion (seconds to minutes) runs before this function touches the database,
    so call it with no transaction open on `db`.
    """
    source = source or project.base_policy_model or settings.policy_base_model
    ensure_checkpoint(
        store, ModelStore.policy_uri(project.id, 0), source, settings.base_model_dtype
    )
    return register_version_zero(db, project, source)


def current_or_zero(db: Session, project: Project) -> PolicyVersion:
    """The active version; else the newest of any status; else a registered version 0."""
    version = active_version(db, project.id)
    if version is None:
        version = db.scalar(
            select(PolicyVersion)
            .where(PolicyVersion.project_id == project.id)
            .order_by(PolicyVersion.number.desc())
            .limit(1)
        )
    return version or register_version_zero(db, project, project.base_policy_model)


# --- what a run produces --------------------------------------------------------------------


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


def reject(
    db: Session, version: PolicyVersion, *, reason: str, actor_id: int | None = None
) -> PolicyVersion:
    """A candidate (its gates failed) or a version on trial (evaluators preferred the active
    one) that may not serve; ML staff may still promote it. A trial's open pairs retire."""
    if version.status not in ("candidate", "trial"):
        raise PromotionError(f"Version {version.number} is {version.status}, not a candidate.")
    if version.status == "trial":
        _retire_open_pairs(db, version.id)
    version.status = "rejected"
    audit(
        db,
        "policy.rejected",
        actor_id,
        f"policy_version:{version.id}",
        project_id=version.project_id,
        number=version.number,
        reason=reason,
    )
    db.flush()
    return version


def reject_trial(
    db: Session, version: PolicyVersion, actor_id: int, *, note: str = ""
) -> PolicyVersion:
    """ML staff end a trial by hand: the candidate is rejected and the active version keeps
    serving. The decision is stored beside the trial's votes, as an automatic one is."""
    lock_project(db, version.project_id)
    db.refresh(version)  # the sampler's review may have decided it meanwhile
    if version.status != "trial":
        raise PromotionError(f"Version {version.number} is {version.status}, not on trial.")
    note = " ".join(note.split())[:MAX_NOTE]
    why = f"rejected by hand: {note}" if note else "rejected by hand"
    trial = {**(version.metrics or {}).get("trial", {}), "decision": "rejected by hand"}
    trial.update(reason=note or "an ML override", decided_at=utcnow().isoformat())
    version.metrics = {**(version.metrics or {}), "trial": trial}
    return reject(db, version, reason=f"human trial: {why}", actor_id=actor_id)


def start_trial(db: Session, version: PolicyVersion, *, reason: str) -> PolicyVersion:
    """Put a candidate on trial against the active version; an older trial is superseded."""
    if version.status != "candidate":
        raise PromotionError(f"Version {version.number} is {version.status}, not a candidate.")
    lock_project(db, version.project_id)
    earlier = trial_version(db, version.project_id)
    if earlier is not None:
        reject(db, earlier, reason=f"superseded by the trial of v{version.number}")
    version.status = "trial"
    version.metrics = {**(version.metrics or {}), "trial": {"started_at": utcnow().isoformat()}}
    audit(
        db,
        "policy.trial_started",
        None,
        f"policy_version:{version.id}",
        project_id=version.project_id,
        number=version.number,
        reason=reason,
    )
    db.flush()
    return version


def _retire_open_pairs(db: Session, version_id: int) -> None:
    db.execute(
        update(Pair)
        .where(Pair.policy_version_id == version_id, Pair.status == "open")
        .values(status="retired")
        .execution_options(synchronize_session=False)
    )


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
            _retire_open_pairs(db, previous.id)
    before = version.status
    if before == "trial" and reason == "manual":  # ML staff ended the trial early
        trial = {**(version.metrics or {}).get("trial", {}), "decision": "promoted by hand"}
        trial["decided_at"] = utcnow().isoformat()
        version.metrics = {**(version.metrics or {}), "trial": trial}
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
