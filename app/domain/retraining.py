"""Automatic retraining: each project's schedule and the rule that enqueues its runs.

A project retrains once `retrain_every_labels` new usable labels (what a run would train
on) have arrived since the newest run's watermark, at most once per `retrain_min_minutes`,
and never beside a queued or running run (unless TRAINING_PARALLEL_RUNS). A project that
sets neither uses the deployment's RETRAIN_EVERY_LABELS / RETRAIN_MIN_INTERVAL_MINUTES.
Simulated evaluators' labels count, and the scheduled run trains on them, only where the
project says so (`train_on_simulated`: the demo does, a real project does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import jobs
from app.domain.preferences import count_usable
from app.domain.project_settings import settings_of
from app.models import Project, TrainingRun, utcnow
from app.settings import Settings

__all__ = ["Schedule", "describe_all", "due", "maybe_enqueue_periodic", "schedule_of"]


@dataclass(frozen=True)
class Schedule:
    every_labels: int  # 0: off
    min_minutes: int
    simulated: bool = False  # simulated evaluators' labels count and train

    @property
    def on(self) -> bool:
        return self.every_labels > 0

    def describe(self) -> str:
        if not self.on:
            return "automatic retraining off"
        whose = ", labels of simulated evaluators included" if self.simulated else ""
        return (
            f"retrains every {self.every_labels} new labels, at most every "
            f"{self.min_minutes} min{whose}"
        )


def schedule_of(project: Project, settings: Settings) -> Schedule:
    """The project's retraining schedule (its own settings, else the deployment's)."""
    stored = settings_of(project)
    every, minutes = stored.retrain_every_labels, stored.retrain_min_minutes
    return Schedule(
        every_labels=settings.retrain_every_labels if every is None else every,
        min_minutes=settings.retrain_min_interval_minutes if minutes is None else minutes,
        simulated=stored.train_on_simulated,
    )


def labels_since_last_run(db: Session, project: Project) -> int:
    """Usable labels above the newest run's watermark: what the next trigger counts
    (simulated evaluators' too where the project trains on them)."""
    watermark = db.scalar(
        select(func.max(TrainingRun.watermark_comparison_id)).where(
            TrainingRun.project_id == project.id
        )
    )
    simulated = settings_of(project).train_on_simulated
    return count_usable(db, project, watermark or 0, include_simulated=simulated)


def due(db: Session, settings: Settings, project: Project, now: datetime) -> bool:
    """True when the project's schedule says a run is due now."""
    schedule = schedule_of(project, settings)
    if not schedule.on:
        return False
    if not settings.training_parallel_runs and jobs.active_run(db, project.id) is not None:
        return False
    last = db.scalar(
        select(TrainingRun.created_at)
        .where(TrainingRun.project_id == project.id)
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )
    if last is not None and last > now - timedelta(minutes=schedule.min_minutes):
        return False
    return labels_since_last_run(db, project) >= schedule.every_labels


def maybe_enqueue_periodic(
    db: Session, settings: Settings, now: datetime | None = None
) -> list[int]:
    """Enqueue one `schedule` run per project that is due; returns the new run ids."""
    now = now or utcnow()
    created = []
    for project_id in db.scalars(select(Project.id).order_by(Project.id)):
        # The project lock makes check-then-insert atomic across concurrent workers.
        project = jobs.lock_project(db, project_id)
        if project is not None and due(db, settings, project, now):
            config = {"include_simulated": settings_of(project).train_on_simulated}
            run = jobs.enqueue(db, settings, project_id, config=config, trigger="schedule")
            created.append(run.id)
    return created


def describe_all(db: Session, settings: Settings) -> list[str]:
    """One line per project: its name and retraining schedule."""
    projects = db.scalars(select(Project).order_by(Project.id))
    return [f"Project {p.name!r}: {schedule_of(p, settings).describe()}." for p in projects]
