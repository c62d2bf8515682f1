"""`pairwise worker train` under `accelerate launch --num_processes 2` on CPU (gloo): rank 0
claims the run and shares it, both ranks train their share of the data, one version is
registered, and the run says it had 2 ranks and what each of them did."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.models import PolicyVersion, RewardModel, TrainingRun
from app.settings import Settings
from tests.training_runs.test_worker import seed, tiny_overrides

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_SECONDS = 900  # two processes importing torch and training on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(url: str, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`accelerate launch --multi_gpu --num_processes 2 -m app.cli worker train --once`.

    `--multi_gpu` is what starts N processes (through torchrun); without CUDA the processes
    join a gloo group (`--cpu` would start a single process, or need mpirun)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": "t" * 48,
        "PAIRWISE_ENV": "test",
        "RETRAIN_EVERY_LABELS": "0",
        "TRAINING_RANK_TIMEOUT_SECONDS": "300",
        "OMP_NUM_THREADS": "1",
        "HF_HOME": str(data_dir / "hf"),  # no accelerate config of this machine's user
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
        *extra,
        "-m",
        "app.cli",
        "worker",
        "train",
        "--once",
    ]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_SECONDS,
        check=False,
    )


def test_two_processes_train_one_run_and_register_one_version(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    url = committed_engine.url.render_as_string(hide_password=False)
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        overrides = tiny_overrides(
            tiny_reward_dir, **{"gates.min_reward_gain": -1e9, "policy.steps": 2}
        )
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=overrides).id

    done = launch(url, settings.data_dir)
    output = f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n--- stderr\n"
    output += done.stderr[-12000:]
    assert done.returncode == 0, output

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        assert run.status == "succeeded", (run.error, run.log, output)
        assert run.metrics["ranks"] == 2
        versions = db.scalars(select(PolicyVersion).where(PolicyVersion.number > 0)).all()
        assert [v.number for v in versions] == [1]  # rank 1 registered nothing of its own
        assert run.policy_version_id == versions[0].id
        assert db.scalar(select(func.count()).select_from(RewardModel)) == 1
        # Both ranks took every optimizer step (DDP: a step waits for both ranks' gradients),
        # each on its own share of the data.
        for stage in ("reward", "policy"):
            shares = run.metrics[stage]["per_rank"]
            assert [s["rank"] for s in shares] == [0, 1], (stage, shares)
            assert shares[0]["steps"] == shares[1]["steps"] > 0, (stage, shares)
        assert run.metrics["policy"]["steps"] == 2
    leftovers = [p for p in settings.resolved_model_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


# Put on rank 1's path: its reward stage ends the process, as a crash or the OOM killer would.
DIE_ON_RANK_1 = """
import importlib.abc, importlib.machinery, os, sys

class _KillRewardStage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "trainer.reward":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.train_reward_model = lambda *args, **kwargs: os._exit(3)

        spec.loader.exec_module = exec_module
        return spec

if os.environ.get("RANK") == "1":
    sys.meta_path.insert(0, _KillRewardStage())
"""


def test_a_rank_that_dies_fails_the_run_with_a_reason(
    committed_engine: Engine,
    settings: Settings,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = committed_engine.url.render_as_string(hide_password=False)
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        config = tiny_overrides(tiny_reward_dir)
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(DIE_ON_RANK_1)
    monkeypatch.setenv("PYTHONPATH", f"{hooks}{os.pathsep}{ROOT}")

    done = launch(url, settings.data_dir)
    output = f"exit {done.returncode}\n--- stderr\n{done.stderr[-12000:]}"
    assert done.returncode != 0, output

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        assert run.status == "failed", (run.status, run.error, output)
        assert "A training process of this run (2 processes" in (run.error or ""), output
        assert run.lease_token is None and run.finished_at is not None
        assert db.scalar(select(PolicyVersion).where(PolicyVersion.number > 0)) is None
        assert db.scalar(select(RewardModel)) is None
