"""Periodic retraining: enqueue a run once enough new usable comparisons have arrived."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import jobs
from app.domain.preferences import count_usable
from app.models import Project, TrainingRun, utcnow
from app.settings import Settings


def due(db: Session, settings: Settings, project_id: int, now: datetime) -> bool:
    """True when RETRAIN_EVERY_LABELS new usable labels exist and the interval has passed."""
    if not settings.training_parallel_runs and jobs.active_run(db, project_id) is not None:
        return False
    last = db.scalar(
        select(TrainingRun)
        .where(TrainingRun.project_id == project_id)
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )
    interval = timedelta(minutes=settings.retrain_min_interval_minutes)
    if last is not None and last.created_at > now - interval:
        return False
    watermark = db.scalar(
        select(func.max(TrainingRun.watermark_comparison_id)).where(
            TrainingRun.project_id == project_id
        )
    )
    project = db.get(Project, project_id)
    if project is None:
        return False
    return count_usable(db, project, watermark or 0) >= settings.retrain_every_labels


def maybe_enqueue_periodic(
    db: Session, settings: Settings, now: datetime | None = None
) -> list[int]:
    """Enqueue one `schedule` run per project that is due; returns the new run ids."""
    if settings.retrain_every_labels <= 0:
        return []
    now = now or utcnow()
    created = []
    for project_id in db.scalars(select(Project.id).order_by(Project.id)):
        # The project lock makes check-then-insert atomic across concurrent workers.
        jobs.lock_project(db, project_id)
        if due(db, settings, project_id, now):
            run = jobs.enqueue(db, settings, project_id, trigger="schedule")
            created.append(run.id)
    return created
