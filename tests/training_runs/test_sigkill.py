"""A trainer killed with SIGKILL mid-run: another trainer retries the run, registering once,
and resumes from the checkpoint the killed one left in the run's work folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from app.db import make_engine, make_sessionmaker, transaction
from app.domain import jobs
from app.domain.store import ModelStore
from app.migrate import upgrade
from app.models import PolicyVersion, RewardModel, TrainingRun
from app.settings import Settings
from tests.training_runs.test_worker import seed, tiny_overrides
from trainer.worker import Worker
from trainer.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def test_killed_trainer_leaves_the_run_to_another(
    tmp_path: Path, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    settings = Settings(
        pairwise_env="test",
        data_dir=tmp_path,
        secret_key="k" * 48,
        database_url=url,
        training_lease_seconds=5,
        sampler_enabled=False,
    )  # type: ignore[call-arg]
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        config = tiny_overrides(tiny_reward_dir, **{"gates.min_reward_gain": -1e9})
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 48,
        "PAIRWISE_ENV": "test",
        "TRAINING_LEASE_SECONDS": "5",
        "RETRAIN_EVERY_LABELS": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "train", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with transaction(factory) as db:
                run = db.get(TrainingRun, run_id)
                assert run is not None
                if run.stage in ("reward", "policy") and run.status == "running":
                    break
            assert proc.poll() is None, "the trainer exited before it could be killed"
            time.sleep(0.2)
        else:
            raise AssertionError("the trainer never reached the reward stage")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "running" and run.attempts == 1
    # Nobody else may take it while the dead trainer's lease is still valid.
    other = Worker(settings, factory, owner="second", heartbeat_seconds=0.5)
    assert other.run_once() is None
    time.sleep(5.5)
    assert other.run_once() == run_id

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        assert run.status == "succeeded" and run.attempts == 2 and run.lease_owner == "second"
        count = select(func.count()).select_from(PolicyVersion)
        assert db.scalar(count.where(PolicyVersion.training_run_id == run_id)) == 1
        assert db.scalar(select(func.count()).select_from(RewardModel)) == 1
    engine.dispose()


def test_a_run_retried_after_a_kill_in_the_policy_stage_resumes_from_its_checkpoint(
    tmp_path: Path, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    settings = Settings(
        pairwise_env="test",
        data_dir=tmp_path,
        secret_key="k" * 48,
        database_url=url,
        training_lease_seconds=30,
        sampler_enabled=False,
    )  # type: ignore[call-arg]
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    overrides = {"gates.min_reward_gain": -1e9, "policy.steps": 8, "policy.save_steps": 2}
    with transaction(factory) as db:
        config = tiny_overrides(tiny_reward_dir, **overrides)
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    store = ModelStore(tmp_path / "models")
    work = Workspace(store.path(store.run_work_uri(project_id, run_id)))

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 48,
        "PAIRWISE_ENV": "test",
        "TRAINING_LEASE_SECONDS": "30",
        "RETRAIN_EVERY_LABELS": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "train", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while (point := work.resume_point("policy")) is None:
            assert proc.poll() is None, "the trainer exited before it wrote a policy checkpoint"
            assert time.monotonic() < deadline, "the trainer never wrote a policy checkpoint"
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    checkpoint_step = point[1]
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "running" and run.stage == "policy"
        assert checkpoint_step < 8

    # A trainer started on the same machine sees the killed one is gone and retries at once.
    retry = Worker(settings, factory, owner="second", heartbeat_seconds=0.5)
    assert retry.serve(once=True) == 1
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        assert run.status == "succeeded" and run.attempts == 2, (run.error, run.log)
        resumed = run.metrics["policy"]["resumed_from_step"]
        assert resumed is not None and resumed >= checkpoint_step
        assert f"resuming from the checkpoint at step {resumed}" in run.log
        assert "reward model: kept from an earlier attempt" in run.log
        # The retry trained only the steps after the checkpoint.
        steps = [step for step, _ in run.metrics["curves"]["policy:loss"]]
        assert min(steps) > resumed and max(steps) == 8
        count = select(func.count()).select_from(PolicyVersion)
        assert db.scalar(count.where(PolicyVersion.training_run_id == run_id)) == 1
        assert db.scalar(select(func.count()).select_from(RewardModel)) == 1
    # The run has ended: its checkpoints are pruned from the work folder.
    assert work.resume_point("policy") is None and not (work.root / "reward-model").exists()
    engine.dispose()
