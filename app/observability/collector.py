"""Series computed from the database at scrape time, so every process reports the same."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.models import Comparison, Pair, PolicyVersion, Project, TrainingRun, WorkerHeartbeat
from app.models.training import RUN_STATUSES


def _numbers(values: dict[str, Any]) -> Iterator[tuple[str, float]]:
    """The numeric top-level entries of a JSON column (booleans and text are skipped)."""
    for key, value in sorted(values.items()):
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield str(key), float(value)


class DatabaseCollector(Collector):
    """Pair buffer, labels, run queue, trainer progress and worker heartbeats."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "pairwise_metrics_database_up", "1 when the database answered this scrape."
        )
        try:
            families = list(self._families())
        except SQLAlchemyError:
            self.db.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        db = self.db
        names = dict(db.execute(select(Project.id, Project.name)).tuples().all())

        buffer = GaugeMetricFamily(
            "pairwise_pairs_open",
            "Open pairs waiting for labels (the buffer), by project, policy version and kind.",
            labels=["project", "version", "kind"],
        )
        rows = db.execute(
            select(Pair.project_id, PolicyVersion.number, Pair.kind, func.count())
            .join(PolicyVersion, PolicyVersion.id == Pair.policy_version_id)
            .where(Pair.status == "open")
            .group_by(Pair.project_id, PolicyVersion.number, Pair.kind)
        ).tuples()
        for project_id, number, kind, count in rows:
            buffer.add_metric([names.get(project_id, str(project_id)), str(number), kind], count)
        yield buffer

        labels = CounterMetricFamily(
            "pairwise_comparisons",
            "Comparisons stored, by project (all processes; moves when a pair is labelled).",
            labels=["project"],
        )
        counts = dict(
            db.execute(select(Comparison.project_id, func.count()).group_by(Comparison.project_id))
            .tuples()
            .all()
        )
        for project_id, name in names.items():
            labels.add_metric([name], counts.get(project_id, 0))
        yield labels

        active = GaugeMetricFamily(
            "pairwise_active_policy_version",
            "Number of the active policy version, by project.",
            labels=["project"],
        )
        for project_id, number in db.execute(
            select(PolicyVersion.project_id, func.max(PolicyVersion.number))
            .where(PolicyVersion.status == "active")
            .group_by(PolicyVersion.project_id)
        ).tuples():
            active.add_metric([names.get(project_id, str(project_id))], number)
        yield active

        yield from self._runs(names)
        yield from self._workers()

    def _runs(self, names: dict[int, str]) -> Iterator[Metric]:
        db = self.db
        states = GaugeMetricFamily(
            "pairwise_training_runs",
            "Training runs by project and status (status=queued is the queue depth).",
            labels=["project", "status"],
        )
        counts = {
            (project_id, status): count
            for project_id, status, count in db.execute(
                select(TrainingRun.project_id, TrainingRun.status, func.count()).group_by(
                    TrainingRun.project_id, TrainingRun.status
                )
            ).tuples()
        }
        # Every status of every project, zeros included, so that alerts see "0 queued".
        for project_id, name in names.items():
            for status in RUN_STATUSES:
                states.add_metric([name, status], counts.get((project_id, status), 0))
        yield states

        progress = GaugeMetricFamily(
            "pairwise_training_run_progress",
            "Progress (0-1) of each running training run.",
            labels=["project", "run", "kind", "stage"],
        )
        metric = GaugeMetricFamily(
            "pairwise_training_run_metric",
            "Numeric metrics the trainer reports for each running run (step, loss, ...).",
            labels=["project", "run", "name"],
        )
        running = db.scalars(
            select(TrainingRun).where(TrainingRun.status == "running").order_by(TrainingRun.id)
        )
        for run in running:
            project = names.get(run.project_id, str(run.project_id))
            progress.add_metric([project, str(run.id), run.kind, run.stage], run.progress)
            for key, value in _numbers(run.metrics or {}):
                metric.add_metric([project, str(run.id), key], value)
        yield progress
        yield metric

    def _workers(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "pairwise_worker_heartbeat_age_seconds",
            "Seconds since each worker process last reported (sampler or trainer).",
            labels=["worker", "kind"],
        )
        status = GaugeMetricFamily(
            "pairwise_worker_status",
            "Numeric fields of each worker's last heartbeat (e.g. tokens_per_s).",
            labels=["worker", "kind", "name"],
        )
        now = datetime.now(UTC)
        for beat in self.db.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.id)):
            seen = beat.seen_at if beat.seen_at.tzinfo else beat.seen_at.replace(tzinfo=UTC)
            age.add_metric([beat.id, beat.kind], max(0.0, (now - seen).total_seconds()))
            for key, value in _numbers(beat.status or {}):
                status.add_metric([beat.id, beat.kind, key], value)
        yield age
        yield status
