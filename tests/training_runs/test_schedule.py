"""Periodic retraining enqueues exactly one run when the label threshold is crossed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import jobs
from app.domain.project_settings import ProjectSettingsError, settings_of, update_settings
from app.domain.retraining import labels_since_last_run, maybe_enqueue_periodic
from app.models import Project, TrainingRun, User, utcnow
from app.settings import Settings
from tests.factories.training import labelled_pairs, version_zero
from trainer.data import current_watermark


def runs(db: Session, project: Project) -> list[TrainingRun]:
    return list(db.scalars(select(TrainingRun).where(TrainingRun.project_id == project.id)))


def test_threshold_enqueues_exactly_one_run(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    settings = settings.model_copy(
        update={"retrain_every_labels": 5, "retrain_min_interval_minutes": 10}
    )
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    user = make_user("evaluator")
    labelled_pairs(db, project, v0, user, 4)
    assert maybe_enqueue_periodic(db, settings) == []  # 4 < 5
    labelled_pairs(db, project, v0, user, 1)
    created = maybe_enqueue_periodic(db, settings)
    assert len(created) == 1
    assert maybe_enqueue_periodic(db, settings) == []  # a run is already queued
    (run,) = runs(db, project)
    assert run.trigger == "schedule" and run.recipe == settings.training_default_recipe

    # The run trained on everything so far; the next one needs 5 new labels and the interval.
    claim = jobs.claim(db, settings, "w")
    assert claim is not None
    run.watermark_comparison_id = current_watermark(db, project.id)
    jobs.finish(db, run.id, claim.token)
    labelled_pairs(db, project, v0, user, 5)
    assert maybe_enqueue_periodic(db, settings) == []  # within RETRAIN_MIN_INTERVAL
    later = utcnow() + timedelta(minutes=11)
    assert len(maybe_enqueue_periodic(db, settings, later)) == 1
    assert len(runs(db, project)) == 2


def test_zero_turns_it_off(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    labelled_pairs(db, project, v0, make_user("evaluator"), 6)
    assert settings.retrain_every_labels == 0
    assert maybe_enqueue_periodic(db, settings) == []


def test_each_project_follows_its_own_schedule(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    assert settings.retrain_every_labels == 0  # the deployment default is off
    update_settings(project, retrain_every_labels=3, retrain_min_minutes=10)
    other = Project(name="quiet", settings={})
    db.add(other)
    db.flush()
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    quiet_v0 = version_zero(db, other, tmp_path / "quiet", tiny_policy_dir)
    user = make_user("evaluator")
    labelled_pairs(db, project, v0, user, 2)
    labelled_pairs(db, other, quiet_v0, user, 10)
    assert labels_since_last_run(db, project) == 2
    assert maybe_enqueue_periodic(db, settings) == []  # 2 < 3; the other project is off
    labelled_pairs(db, project, v0, user, 1)
    (first,) = maybe_enqueue_periodic(db, settings)
    assert db.get(TrainingRun, first).project_id == project.id  # type: ignore[union-attr]

    claim = jobs.claim(db, settings, "w")
    assert claim is not None
    run = db.get(TrainingRun, first)
    assert run is not None
    run.watermark_comparison_id = current_watermark(db, project.id)
    jobs.finish(db, run.id, claim.token)
    labelled_pairs(db, project, v0, user, 3)
    assert maybe_enqueue_periodic(db, settings) == []  # enough labels, but within 10 minutes
    assert maybe_enqueue_periodic(db, settings, utcnow() + timedelta(minutes=9)) == []
    assert len(maybe_enqueue_periodic(db, settings, utcnow() + timedelta(minutes=11))) == 1
    assert runs(db, other) == []


def test_schedule_settings_are_checked(project: Project) -> None:
    with pytest.raises(ProjectSettingsError, match="retrain_every_labels"):
        update_settings(project, retrain_every_labels=-1)
    with pytest.raises(ProjectSettingsError, match="trial_max_votes"):
        update_settings(project, trial_votes=40, trial_max_votes=20)
    assert settings_of(project).trial_votes == 30  # nothing stored by the refused change


def test_simulated_labels_count_and_train_only_where_the_project_says_so(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    update_settings(project, retrain_every_labels=3, retrain_min_minutes=0)
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    bot = make_user("evaluator")
    bot.simulated = True
    labelled_pairs(db, project, v0, bot, 4)
    assert labels_since_last_run(db, project) == 0
    assert maybe_enqueue_periodic(db, settings) == []  # a real project ignores simulated labels

    update_settings(project, train_on_simulated=True)
    assert labels_since_last_run(db, project) == 4
    (run_id,) = maybe_enqueue_periodic(db, settings)
    run = db.get(TrainingRun, run_id)
    assert run is not None and run.config["include_simulated"] is True  # the run trains on them


def test_scheduled_runs_of_a_real_project_leave_simulated_labels_out(
    db: Session,
    settings: Settings,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    update_settings(project, retrain_every_labels=2, retrain_min_minutes=0)
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    labelled_pairs(db, project, v0, make_user("evaluator"), 2)
    (run_id,) = maybe_enqueue_periodic(db, settings)
    run = db.get(TrainingRun, run_id)
    assert run is not None and run.config["include_simulated"] is False
