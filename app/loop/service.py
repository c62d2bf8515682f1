"""The loop at a glance: labels towards the next run, the run in progress, the versions with
their human win-rates and reward-model accuracy, and win-rate against labels collected."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import jobs
from app.domain import versions as lifecycle
from app.domain.project_settings import recipe_of
from app.domain.recipe import load_recipe
from app.domain.retraining import labels_since_last_run, schedule_of
from app.domain.safety import UnsafeShare, live_alarms, unsafe_shares
from app.models import (
    Comparison,
    Pair,
    PolicyVersion,
    Project,
    RewardModel,
    TrainingRun,
    User,
    utcnow,
)
from app.policies.figures import SAFETY, kept_safety
from app.settings import Settings
from app.snapshots import Snapshots, newest_label
from app.winrates.figures import kept_lineage, lineage_as_of
from app.winrates.service import LineageWinRates, lineage_win_rates
from app.winrates.stats import Interval

MIN_PROGRESS_FOR_ESTIMATE = 0.02  # below this, time left would be a guess


@dataclass(frozen=True)
class Threshold:
    labels: int  # new usable labels that trigger (or allow) the next run
    source: str  # where the figure comes from, in words


def retrain_threshold(project: Project, settings: Settings) -> Threshold:
    """Labels per run: the one place the Loop page and the labelling strip read it from.

    The project's retraining schedule when automatic retraining is on (its own setting, else
    the deployment's), else the default recipe's `min_comparisons` (fewer usable labels make
    a run fail fast).
    """
    schedule = schedule_of(project, settings)
    if schedule.on:
        return Threshold(schedule.every_labels, schedule.describe())
    recipe = recipe_of(project, settings)
    try:
        minimum = load_recipe(recipe).min_comparisons
    except (OSError, ValueError):
        minimum = 0
    return Threshold(minimum, f"recipe {recipe}: min_comparisons")


@dataclass(frozen=True)
class NextRun:
    labels: int
    threshold: Threshold

    @property
    def share(self) -> float:
        return min(1.0, self.labels / self.threshold.labels) if self.threshold.labels else 1.0

    @property
    def remaining(self) -> int:
        return max(0, self.threshold.labels - self.labels)


@dataclass(frozen=True)
class RunNow:
    run: TrainingRun
    elapsed_seconds: int | None
    left_seconds: int | None  # None until enough progress to estimate


@dataclass(frozen=True)
class VersionLine:
    version: PolicyVersion
    win_rates: LineageWinRates | None
    parent_number: int | None
    reward_accuracy: float | None  # the reward model's held-out (validation) accuracy
    labels: int | None  # labels collected when the run that made it started
    unsafe: UnsafeShare | None = None  # the share of its judged responses flagged unsafe
    unsafe_alarm: str | None = None  # live, and flagged more often than its parent: why


@dataclass(frozen=True)
class Loop:
    project: Project
    next_run: NextRun
    now: RunNow | None
    versions: list[VersionLine]
    active: PolicyVersion | None

    def curve(self) -> list[tuple[float, Interval]]:
        """(labels it was trained on, P(beats v0)) per rated trained version, v0 at (0, 50 %)."""
        points = [
            (float(v.labels), v.win_rates.vs_zero)
            for v in self.versions
            if v.labels is not None and v.win_rates is not None and v.win_rates.vs_zero is not None
        ]
        if any(v.version.number == 0 for v in self.versions):
            points.append((0.0, Interval(0.5, 0.5, 0.5)))
        return sorted(points, key=lambda p: p[0])


def run_now(db: Session, project_id: int, now: datetime) -> RunNow | None:
    """The queued or running run with how long it has run and an estimate of time left."""
    run = jobs.active_run(db, project_id)
    if run is None:
        return None
    if run.started_at is None or run.status != "running":
        return RunNow(run, None, None)
    elapsed = max(0.0, (now - run.started_at).total_seconds())
    left = None
    if run.progress >= MIN_PROGRESS_FOR_ESTIMATE:
        left = int(elapsed * (1 - run.progress) / run.progress)
    return RunNow(run, int(elapsed), left)


def _labels_at(db: Session, project_id: int, watermarks: set[int]) -> dict[int, int]:
    """How many of the project's labels had arrived at each comparison id in `watermarks`."""
    return {
        w: int(
            db.scalar(
                select(func.count(Comparison.id)).where(
                    Comparison.project_id == project_id, Comparison.live, Comparison.id <= w
                )
            )
            or 0
        )
        for w in watermarks
    }


def version_lines(
    db: Session,
    project: Project,
    rates: dict[int, LineageWinRates],
    unsafe: dict[int, UnsafeShare] | None = None,
) -> list[VersionLine]:
    """Every version, newest first, with win-rates (`rates`: by version id), reward accuracy,
    labels collected and unsafe share (`unsafe`: by version id)."""
    versions = lifecycle.list_versions(db, project.id)
    run_ids = [v.training_run_id for v in versions if v.training_run_id is not None]
    runs = {
        run_id: (watermark, accuracy)
        for run_id, watermark, accuracy in db.execute(
            select(TrainingRun.id, TrainingRun.watermark_comparison_id, RewardModel.metrics)
            .outerjoin(RewardModel, RewardModel.id == TrainingRun.reward_model_id)
            .where(TrainingRun.id.in_(run_ids))
        )
    }
    labels = _labels_at(db, project.id, {w for w, _ in runs.values() if w is not None})
    numbers = {v.id: v.number for v in versions}
    alarms = live_alarms(unsafe or {}, versions)
    out = []
    for v in versions:
        watermark, reward_metrics = runs.get(v.training_run_id or -1, (None, None))
        accuracy = (reward_metrics or {}).get("val_accuracy")
        out.append(
            VersionLine(
                version=v,
                win_rates=rates.get(v.id),
                parent_number=numbers.get(v.parent_id) if v.parent_id else None,
                reward_accuracy=float(accuracy) if isinstance(accuracy, int | float) else None,
                labels=labels.get(watermark)
                if watermark is not None
                else (0 if v.number == 0 else None),
                unsafe=(unsafe or {}).get(v.id),
                unsafe_alarm=alarms.get(v.id),
            )
        )
    return out


def loop(
    db: Session,
    settings: Settings,
    project: Project,
    now: datetime | None = None,
    *,
    versions: bool = True,
    snapshots: Snapshots | None = None,
) -> Loop:
    """Everything the Loop page shows for `project` (without `versions`: not the versions);
    the win-rates as kept in `snapshots`, or computed now without them."""
    lines: list[VersionLine] = []
    if versions:
        if snapshots is not None:
            rates = kept_lineage(snapshots, db, project).value
            unsafe = kept_safety(snapshots, db, project).value
        else:
            rates = lineage_win_rates(db, project, bootstrap=settings.leaderboard_bootstrap)
            unsafe = unsafe_shares(db, project)
        lines = version_lines(db, project, rates, unsafe)
    return Loop(
        project=project,
        next_run=NextRun(labels_since_last_run(db, project), retrain_threshold(project, settings)),
        now=run_now(db, project.id, now or utcnow()),
        versions=lines,
        active=lifecycle.active_version(db, project.id),
    )


def change_tokens(
    db: Session, project_id: int, snapshots: Snapshots | None = None
) -> dict[str, str]:
    """For each part of the Loop page, a token that changes whenever what it shows changes
    (with `snapshots`: also when the kept win-rates were refreshed)."""
    labels = newest_label(db, project_id)
    newest_run = db.execute(
        select(TrainingRun.id, TrainingRun.status, TrainingRun.stage, TrainingRun.progress)
        .where(TrainingRun.project_id == project_id)
        .order_by(TrainingRun.id.desc())
        .limit(1)
    ).first()
    versions = db.execute(
        select(PolicyVersion.id, PolicyVersion.status)
        .where(PolicyVersion.project_id == project_id)
        .order_by(PolicyVersion.id)
    ).all()
    head_to_head = db.scalar(
        select(func.count(Comparison.id))
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(Comparison.project_id == project_id, Comparison.live, Pair.kind == "head_to_head")
    )
    live = [labels, tuple(newest_run or ()), len(versions)]
    shown: list[object] = [
        head_to_head,
        newest_run[0] if newest_run else None,
        *(tuple(v) for v in versions),
    ]
    if snapshots is not None:
        shown.append(lineage_as_of(snapshots, db, project_id))
        shown.append(snapshots.as_of(db, SAFETY, project_id))
    return {"live": _digest(live), "versions": _digest(shown)}


def _digest(parts: Sequence[object]) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Strip:
    """The labelling page's line: which live version the evaluator's labels trained."""

    version: int
    live_since: datetime | None
    trained_on_yours: bool


def evaluator_strip(db: Session, project: Project, user: User) -> Strip | None:
    """The active version (above v0) and whether it was trained on this evaluator's labels."""
    active = lifecycle.active_version(db, project.id)
    if active is None or active.number == 0:
        return None
    watermark = None
    if active.training_run_id is not None:
        watermark = db.scalar(
            select(TrainingRun.watermark_comparison_id).where(
                TrainingRun.id == active.training_run_id
            )
        )
    yours = watermark is not None and (
        db.scalar(
            select(Comparison.id)
            .where(
                Comparison.project_id == project.id,
                Comparison.user_id == user.id,
                Comparison.id <= watermark,
            )
            .limit(1)
        )
        is not None
    )
    return Strip(active.number, active.promoted_at, yours)
