"""The demo project is seeded to retrain on simulated labels too, says so at start, and a
second start never undoes what an admin changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import make_engine, make_sessionmaker, transaction
from app.demo import retraining_lines, seed
from app.domain.project_settings import loop_settings_of, update_settings
from app.models import Project
from app.settings import Settings


def test_demo_project_trains_on_simulated_labels_and_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="")  # type: ignore[call-arg]
    assert seed(settings) is not None  # the admin's password, shown once
    engine = make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        project = db.scalars(select(Project)).one()
        loop = loop_settings_of(project)
        assert (loop.retrain_every_labels, loop.train_on_simulated) == (50, True)
    (line,) = retraining_lines(settings)
    assert (
        "retrains every 50 new labels" in line and "labels of simulated evaluators included" in line
    )

    with transaction(factory) as db:  # an admin turns it off; the next start keeps that
        update_settings(db.scalars(select(Project)).one(), train_on_simulated=False)
    assert seed(settings) is None
    with transaction(factory) as db:
        assert loop_settings_of(db.scalars(select(Project)).one()).train_on_simulated is False
    engine.dispose()


def test_demo_children_train_with_the_demo_recipe_and_pause_sampling_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.demo import DEMO_RECIPE, child_env

    monkeypatch.delenv("TORCH_THREADS", raising=False)
    from app.domain.recipe import load_recipe

    env = child_env(Settings(data_dir=tmp_path, database_url=""))  # type: ignore[call-arg]
    assert env["TRAINING_DEFAULT_RECIPE"] == DEMO_RECIPE
    assert env["SAMPLER_PAUSE_DURING_RUNS"] == "true"
    assert load_recipe(DEMO_RECIPE).policy.method == "dpo"  # no rollouts to generate
    assert "TORCH_THREADS" not in env  # taking turns, sampler and trainer each use every core

    chosen = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url="",
        training_default_recipe="cpu-small",
        sampler_pause_during_runs=False,
    )
    env = child_env(chosen)
    assert env.get("TRAINING_DEFAULT_RECIPE") != DEMO_RECIPE
    assert env.get("SAMPLER_PAUSE_DURING_RUNS") != "true"
    assert env["TORCH_THREADS"] == str(max(1, (os.cpu_count() or 2) // 2))  # working at once
