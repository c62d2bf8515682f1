"""The whole app–trainer contract: the `training_runs` queue with leases.

The web app enqueues (an INSERT in the caller's transaction); a trainer claims the oldest
queued run (or one whose trainer died) with a random lease token, heartbeats while it
works, and can finish or fail the run only while that token still holds. Every function
takes the Session first and never commits: the caller's unit of work does.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.domain.project_settings import recipe_of
from app.models import Project, TrainingRun, utcnow
from app.models.training import RUN_KINDS
from app.settings import Settings

__all__ = [
    "ACTIVE",
    "Claim",
    "JobError",
    "LeaseLost",
    "cancel",
    "claim",
    "enqueue",
    "fail",
    "finish",
    "heartbeat",
    "hold",
    "release",
    "release_abandoned",
]

ACTIVE = ("queued", "running")
LOG_TAIL_CHARS = 20_000


class JobError(ValueError):
    """A queue operation the caller asked for is not allowed; the message says why."""


class LeaseLost(RuntimeError):
    """The trainer's lease token no longer holds (expired and re-claimed, or the run ended)."""


@dataclass(frozen=True)
class Claim:
    """What a trainer receives: ids and plain values, never ORM objects."""

    run_id: int
    project_id: int
    token: str
    attempt: int
    kind: str
    recipe: str
    config: dict[str, Any]


def _is_postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def lock_project(db: Session, project_id: int) -> Project | None:
    """Serialise writers of one project (row lock on Postgres; SQLite's BEGIN IMMEDIATE does it)."""
    stmt = select(Project).where(Project.id == project_id)
    if _is_postgres(db):
        stmt = stmt.with_for_update()
    return db.scalar(stmt)


def active_run(db: Session, project_id: int) -> TrainingRun | None:
    return db.scalar(
        select(TrainingRun)
        .where(TrainingRun.project_id == project_id, TrainingRun.status.in_(ACTIVE))
        .order_by(TrainingRun.id)
        .limit(1)
    )


def enqueue(
    db: Session,
    settings: Settings,
    project_id: int,
    *,
    kind: str = "full",
    recipe: str | None = None,
    config: dict[str, Any] | None = None,
    requested_by_id: int | None = None,
    trigger: str = "manual",
) -> TrainingRun:
    """Queue a run; refuses a second queued/running run of the project unless configured."""
    if kind not in RUN_KINDS:
        raise JobError(f"Unknown run kind {kind!r}; use one of {', '.join(RUN_KINDS)}.")
    project = lock_project(db, project_id)
    if project is None:
        raise JobError(f"Project {project_id} does not exist.")
    if not settings.training_parallel_runs:
        busy = active_run(db, project_id)
        if busy is not None:
            raise JobError(
                f"Run #{busy.id} is already {busy.status} for this project; wait for it or "
                "cancel it (TRAINING_PARALLEL_RUNS=true allows several)."
            )
    run = TrainingRun(
        project_id=project_id,
        kind=kind,
        recipe=recipe or recipe_of(project, settings),
        config=config or {},
        status="queued",
        requested_by_id=requested_by_id,
        trigger=trigger,
        attempts=0,
        cancel_requested=False,
        stage="queued",
        progress=0.0,
        metrics={},
        log="",
    )
    db.add(run)
    db.flush()
    return run


def _expire_exhausted(db: Session, settings: Settings, now: datetime) -> None:
    """Runs whose trainer died too often (or was cancelled meanwhile) end here, with the reason."""
    expired = and_(TrainingRun.status == "running", TrainingRun.lease_expires_at < now)
    db.execute(
        update(TrainingRun)
        .where(expired, TrainingRun.cancel_requested.is_(True))
        .values(status="cancelled", finished_at=now, lease_token=None, stage="cancelled")
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(TrainingRun)
        .where(expired, TrainingRun.attempts >= settings.training_max_attempts)
        .values(
            status="failed",
            finished_at=now,
            lease_token=None,
            error=(
                f"The trainer stopped heartbeating (lease expired) on attempt "
                f"{settings.training_max_attempts} of {settings.training_max_attempts}; "
                "giving up (TRAINING_MAX_ATTEMPTS)."
            ),
        )
        .execution_options(synchronize_session=False)
    )


def claim(db: Session, settings: Settings, owner: str) -> Claim | None:
    """Take the oldest queued (or lease-expired) run with a fresh lease token, or None."""
    now = utcnow()
    _expire_exhausted(db, settings, now)
    claimable = or_(
        TrainingRun.status == "queued",
        and_(TrainingRun.status == "running", TrainingRun.lease_expires_at < now),
    )
    stmt = select(TrainingRun.id).where(claimable).order_by(TrainingRun.id).limit(1)
    if _is_postgres(db):
        stmt = stmt.with_for_update(skip_locked=True)
    run_id = db.scalar(stmt)
    if run_id is None:
        return None
    token = secrets.token_hex(16)
    # The WHERE repeats the condition: on SQLite this conditional UPDATE is the claim.
    result = db.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, claimable)
        .values(
            status="running",
            lease_owner=owner[:100],
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=settings.training_lease_seconds),
            attempts=TrainingRun.attempts + 1,
            started_at=func.coalesce(TrainingRun.started_at, now),
            stage="starting",
            progress=0.0,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    run = db.get(TrainingRun, run_id, populate_existing=True)
    assert run is not None
    return Claim(
        run_id=run.id,
        project_id=run.project_id,
        token=token,
        attempt=run.attempts,
        kind=run.kind,
        recipe=run.recipe,
        config=dict(run.config or {}),
    )


def hold(db: Session, run_id: int, token: str) -> TrainingRun:
    """The run, row-locked on Postgres, if `token` is still its live lease; else LeaseLost."""
    stmt = select(TrainingRun).where(TrainingRun.id == run_id)
    if _is_postgres(db):
        stmt = stmt.with_for_update()
    run = db.scalar(stmt.execution_options(populate_existing=True))
    if run is None or run.status != "running" or run.lease_token != token:
        raise LeaseLost(f"run {run_id}: this trainer no longer holds the lease")
    return run


def heartbeat(
    db: Session,
    settings: Settings,
    run_id: int,
    token: str,
    *,
    progress: float | None = None,
    stage: str | None = None,
    metrics: dict[str, Any] | None = None,
    log_tail: str | None = None,
) -> bool:
    """Extend the lease and record progress; returns True when cancellation was requested."""
    run = hold(db, run_id, token)
    run.lease_expires_at = utcnow() + timedelta(seconds=settings.training_lease_seconds)
    if progress is not None:
        run.progress = max(0.0, min(1.0, progress))
    if stage is not None:
        run.stage = stage[:32]
    if metrics is not None:
        run.metrics = metrics
    if log_tail is not None:
        run.log = log_tail[-LOG_TAIL_CHARS:]
    db.flush()
    return run.cancel_requested


def finish(
    db: Session,
    run_id: int,
    token: str,
    *,
    metrics: dict[str, Any] | None = None,
    policy_version_id: int | None = None,
    reward_model_id: int | None = None,
) -> TrainingRun:
    """Mark the run succeeded; only with the live lease token."""
    run = hold(db, run_id, token)
    run.status = "succeeded"
    run.stage = "done"
    run.progress = 1.0
    run.finished_at = utcnow()
    run.lease_token = None
    if metrics is not None:
        run.metrics = metrics
    run.policy_version_id = policy_version_id
    run.reward_model_id = reward_model_id
    db.flush()
    return run


def fail(db: Session, run_id: int, token: str, error: str, *, cancelled: bool = False) -> None:
    """Mark the run failed (or cancelled, when the trainer stopped on request)."""
    run = hold(db, run_id, token)
    run.status = "cancelled" if cancelled else "failed"
    run.stage = run.status
    run.error = None if cancelled else error[:10_000]
    run.finished_at = utcnow()
    run.lease_token = None
    db.flush()


def release(db: Session, run_id: int, token: str) -> None:
    """Give the run back to the queue (trainer shutting down); another trainer retries it."""
    _requeue(hold(db, run_id, token))
    db.flush()


def _requeue(run: TrainingRun) -> None:
    run.status = "queued"
    run.stage = "queued"
    run.lease_token = None
    run.lease_owner = None
    run.lease_expires_at = None
    run.progress = 0.0


def release_abandoned(db: Session, gone: Callable[[str], bool]) -> list[int]:
    """Queue again the running runs whose trainer `gone(lease_owner)` says has ended, without
    waiting for their lease to expire (a trainer restarted on the same machine)."""
    released = []
    running = select(TrainingRun).where(TrainingRun.status == "running")
    if _is_postgres(db):
        running = running.with_for_update(skip_locked=True)
    for run in db.scalars(running):
        if run.lease_owner and gone(run.lease_owner):
            _requeue(run)
            released.append(run.id)
    db.flush()
    return released


def cancel(db: Session, run: TrainingRun) -> TrainingRun:
    """Queued → cancelled at once; running → cancel requested (the trainer stops next step)."""
    if run.status == "queued":
        run.status = "cancelled"
        run.stage = "cancelled"
        run.finished_at = utcnow()
    elif run.status == "running":
        run.cancel_requested = True
    else:
        raise JobError(f"Run #{run.id} is already {run.status}; only queued or running runs stop.")
    db.flush()
    return run
