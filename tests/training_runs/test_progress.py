"""A run's live progress: curves on the trainer's step axis, thinned evenly, written per step."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.models import TrainingRun
from app.settings import Settings
from tests.training_runs.test_worker import seed, tiny_overrides
from trainer.progress import MAX_CURVE_POINTS, RunState
from trainer.worker import RunFailed, Worker


def test_curves_keep_the_step_axis_when_thinned() -> None:
    state = RunState(["data", "reward"])
    report = state.reporter("reward")
    steps = 3 * MAX_CURVE_POINTS
    for step in range(1, steps + 1):
        report(step / steps, f"reward step {step}", {"loss": 1 / step}, step)
    curve = state.metrics()["curves"]["reward:loss"]
    xs = [x for x, _ in curve]
    assert len(curve) <= MAX_CURVE_POINTS
    assert xs == sorted(set(xs)), "x values only increase"
    assert xs[0] == 1 and xs[-1] > 0.9 * steps  # the axis spans the steps, not a point count
    gaps = {b - a for a, b in zip(xs, xs[1:], strict=False)}
    assert len(gaps) == 1, f"evenly spaced after thinning, got gaps {sorted(gaps)}"
    assert all(value == 1 / x for x, value in curve)  # each value stays at its own step


def test_a_curve_without_steps_counts_reports_and_never_goes_back() -> None:
    state = RunState(["data", "reward"])
    report = state.reporter("reward")
    report(0.5, "", {"loss": 0.5}, 10)
    report(0.6, "", {"loss": 0.4}, 4)  # a second trainer restarting its step count
    report(1.0, "", {"val_accuracy": 0.8})
    curves = state.metrics()["curves"]
    assert [x for x, _ in curves["reward:loss"]] == [10, 11]
    assert curves["reward:val_accuracy"] == [[1, 0.8]]


def test_progress_is_written_at_each_logging_step_not_only_on_the_heartbeat(
    committed_engine: Engine,
    settings: Settings,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
) -> None:
    factory: sessionmaker[Session] = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db, settings, project_id, kind="reward", recipe="tiny",
            config=tiny_overrides(tiny_reward_dir),
        ).id  # fmt: skip
    # A heartbeat an hour away: any write during the stage comes from the report itself.
    worker = Worker(settings, factory, heartbeat_seconds=3600)
    written = threading.Event()
    original_beat = worker._beat

    def beat(*args: Any) -> None:
        original_beat(*args)  # called after each progress write has committed
        written.set()

    seen: list[tuple[float, Any]] = []

    def reward_stage(claim: jobs.Claim, state: RunState, *args: Any) -> Path:
        state.enter("reward")
        written.clear()
        state.reporter("reward")(0.5, "reward step 3/6", {"loss": 0.7}, 3)
        for _ in range(5):  # the data stage's own write may land first
            assert written.wait(60), "no progress written after a logging step"
            written.clear()
            with transaction(factory) as db:
                run = db.get(TrainingRun, run_id)
                assert run is not None
                seen.append((run.progress, (run.metrics or {}).get("curves")))
            if seen[-1][1]:
                break
        raise RunFailed("stop after the first step")

    worker._beat = beat  # type: ignore[method-assign]
    worker._reward_stage = reward_stage  # type: ignore[method-assign,assignment]
    worker.serve(once=True)
    progress, curves = seen[-1]
    assert curves == {"reward:loss": [[3, 0.7]]}
    assert 0.5 < progress < 0.6  # halfway through the reward stage (after data's share)
