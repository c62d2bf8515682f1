"""A trainer killed with SIGKILL mid-run: another trainer retries the run, registering once."""

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
from app.migrate import upgrade
from app.models import PolicyVersion, RewardModel, TrainingRun
from app.settings import Settings
from tests.training.test_worker import seed, tiny_overrides
from trainer.worker import Worker

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
