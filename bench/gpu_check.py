"""The GPU check (issue 15, item 8): the gpu-1x recipe end to end on one GPU, then the
transformers sampler on CUDA with per-row seeds. Run by bench/gpu_check.sh; no network.

A seeded SQLite database in a scratch folder: project, version 0 (the bundled SmolLM2, or
POLICY=<folder>), 64 labelled pairs; one `full` run on the gpu-1x recipe with the bundled
MiniLM reward base and fewer steps (so it fits in minutes): reward model, RLOO with LoRA,
evaluation, registration. Prints each stage's seconds and the peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth.service import create_user  # noqa: E402
from app.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from app.domain import jobs, versions  # noqa: E402
from app.domain.store import ModelStore  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import TrainingRun  # noqa: E402
from app.projects.service import ensure_default_project  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.factories.training import labelled_pairs  # noqa: E402
from trainer.worker import Worker  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20, help="RLOO steps (gpu-1x has 200)")
    parser.add_argument("--labels", type=int, default=64)
    parser.add_argument("--policy", default="smollm2", help="POLICY_BASE_MODEL for version 0")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "no CUDA device visible"
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="pairwise-gpu-check-"))
    url = f"sqlite:///{scratch / 'check.db'}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        pairwise_env="test",
        data_dir=scratch,
        secret_key="g" * 48,
        database_url=url,
        sampler_enabled=False,
        policy_base_model=args.policy,
        base_model_dtype="bfloat16",
    )
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    store = ModelStore(settings.resolved_model_dir)
    started = time.monotonic()
    db = factory()
    project = ensure_default_project(db, "gpu-check")
    versions.ensure_version_zero(db, settings, project, store)
    db.commit()
    db.close()
    print(f"version 0 prepared: {time.monotonic() - started:.1f} s", flush=True)
    with transaction(factory) as db:
        project = ensure_default_project(db, "gpu-check")
        v0 = versions.active_version(db, project.id)
        assert v0 is not None
        user = create_user(db, settings, "judge", "correct horse battery", {"evaluator"})
        labelled_pairs(db, project, v0, user, args.labels, prompts=16)
        overrides = {
            "reward.base_model": "minilm",
            "policy.steps": args.steps,
            "policy.save_steps": max(1, args.steps // 2),
            "heldout_prompts": 8,
            "gates.min_reward_gain": -1e9,
        }
        run_id = jobs.enqueue(
            db, settings, project.id, recipe="gpu-1x", config={"overrides": overrides}
        ).id
    torch.cuda.reset_peak_memory_stats()
    started = time.monotonic()
    Worker(settings, factory, heartbeat_seconds=2).serve(once=True)
    total = time.monotonic() - started
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        status, error, metrics = run.status, run.error, dict(run.metrics or {})
        version_id = run.policy_version_id
    print(f"run {run_id}: {status} in {total:.1f} s; version id {version_id}")
    if error:
        print(f"error: {error}")
    for stage, seconds in (metrics.get("timings") or {}).items():
        print(f"  {stage:<10} {seconds:8.1f} s")
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"peak GPU memory allocated: {peak:.2f} GiB")
    print("gates:", json.dumps(metrics.get("gates")))
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    raise SystemExit(main())
