"""The worker end to end with tiny models: queued → running → succeeded → promoted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_user
from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.domain.store import METADATA_FILE, ModelStore
from app.models import PolicyVersion, RewardModel, TrainingRun, WorkerHeartbeat
from app.projects.service import ensure_default_project
from app.settings import Settings
from tests.factories.training import labelled_pairs, version_zero
from trainer.worker import Worker


def seed(
    factory: sessionmaker[Session], settings: Settings, policy_dir: Path, labels: int = 16
) -> int:
    """A project with version 0 and `labels` comparisons that follow a hidden rule."""
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        v0 = version_zero(db, project, settings.resolved_model_dir, policy_dir)
        user = create_user(db, settings, "judge", "correct horse battery", {"evaluator"})
        labelled_pairs(db, project, v0, user, labels, prompts=8)
        return project.id


def tiny_overrides(reward_dir: Path, **extra: Any) -> dict[str, Any]:
    return {"overrides": {"reward.base_model": str(reward_dir), **extra}}


def test_full_run_registers_and_auto_promotes(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        # Random tiny models barely move in one step: open the reward-gain gate for this test.
        config = tiny_overrides(tiny_reward_dir, **{"gates.min_reward_gain": -1e9})
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    worker = Worker(settings, factory, heartbeat_seconds=0.2)
    assert worker.serve(once=True) == 1

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        assert run.status == "succeeded", (run.error, run.log)
        assert run.progress == 1.0 and run.watermark_comparison_id is not None
        assert run.metrics["data"]["train"] + run.metrics["data"]["validation"] == 16
        assert run.metrics["reward"]["val_accuracy"] is not None
        assert any(key.startswith("reward:") for key in run.metrics["curves"])
        assert run.config["resolved"]["reward"]["base_model"] == str(tiny_reward_dir)
        reward = db.get(RewardModel, run.reward_model_id)
        version = db.get(PolicyVersion, run.policy_version_id)
        assert reward is not None and version is not None
        assert version.number == 1 and version.training_run_id == run_id
        assert version.status == "active", version.metrics.get("gates")
        assert version.metrics["safety_gate"] == "not applicable: no flags yet"
        old = db.scalar(
            select(PolicyVersion).where(
                PolicyVersion.project_id == project_id, PolicyVersion.number == 0
            )
        )
        assert old is not None and old.status == "archived" and version.parent_id == old.id
        store = ModelStore(settings.resolved_model_dir)
        assert store.exists(version.checkpoint_uri) and store.exists(reward.checkpoint_uri)
        saved = (store.path(version.checkpoint_uri) / METADATA_FILE).read_text()
        assert f'"run_id": {run_id}' in saved and '"policy"' in saved


def test_too_few_comparisons_fails_fast_with_the_message(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir, labels=3)
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db, settings, project_id, recipe="tiny", config=tiny_overrides(tiny_reward_dir)
        ).id
    Worker(settings, factory).serve(once=True)
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "failed"
        assert "needs at least 4 usable comparisons" in (run.error or "")
        assert "3 exist" in (run.error or "")
        assert db.scalar(select(PolicyVersion).where(PolicyVersion.number == 1)) is None


@pytest.mark.parametrize("when", ["reward", "evaluate"])
def test_cancel_while_running_registers_nothing(
    committed_engine: Engine,
    settings: Settings,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    when: str,
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db, settings, project_id, recipe="tiny", config=tiny_overrides(tiny_reward_dir)
        ).id
    worker = Worker(settings, factory, heartbeat_seconds=0.1)

    def press_cancel() -> None:
        with transaction(factory) as db:
            run = db.get(TrainingRun, run_id)
            assert run is not None
            jobs.cancel(db, run)

    if when == "reward":  # ML staff press cancel while the reward model trains
        original_reward = worker._reward_stage

        def cancel_then_train(*args: Any, **kw: Any) -> Path:
            press_cancel()
            time.sleep(0.5)  # the next heartbeat carries the request to the trainer
            return original_reward(*args, **kw)

        worker._reward_stage = cancel_then_train  # type: ignore[method-assign]
    else:  # ... or during evaluation, which cannot stop halfway: registration must refuse
        original_stages = worker._stages

        def stages_then_cancel(*args: Any, **kw: Any) -> dict[str, Any]:
            out = original_stages(*args, **kw)
            press_cancel()
            return out

        worker._stages = stages_then_cancel  # type: ignore[method-assign]
    worker.serve(once=True)
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "cancelled", (run.status, run.error)
        assert db.scalar(select(RewardModel)) is None
        assert db.scalar(select(PolicyVersion).where(PolicyVersion.number == 1)) is None
    leftovers = [p for p in settings.resolved_model_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize("kind", ["reward"])
def test_reward_only_run_registers_a_reward_model(
    committed_engine: Engine,
    settings: Settings,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
    kind: str,
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db,
            settings,
            project_id,
            kind=kind,
            recipe="tiny",
            config=tiny_overrides(tiny_reward_dir),
        ).id
    Worker(settings, factory).serve(once=True)
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "succeeded", run.error
        assert run.reward_model_id is not None and run.policy_version_id is None


def test_terminate_releases_the_run_for_another_trainer(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db, settings, project_id, recipe="tiny", config=tiny_overrides(tiny_reward_dir)
        ).id
    worker = Worker(settings, factory, owner="leaving", heartbeat_seconds=0.1)
    original = worker._reward_stage

    def sigterm_then_train(*args: Any, **kw: Any) -> Path:
        worker.terminate()  # what the SIGTERM handler of `pairwise worker train` calls
        return original(*args, **kw)

    worker._reward_stage = sigterm_then_train  # type: ignore[method-assign]
    worker.serve()
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "queued" and run.lease_token is None
        assert run.attempts == 1 and db.scalar(select(RewardModel)) is None
        beat = db.get(WorkerHeartbeat, "leaving")
        assert beat is not None and beat.kind == "trainer" and beat.status["run_id"] == run_id


def test_lora_runs_register_adapters_on_version_zero(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    """Each LoRA version is one adapter on v0's weights (what one vLLM server serves)."""
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    config = tiny_overrides(
        tiny_reward_dir,
        **{"gates.min_reward_gain": -1e9, "policy.lora.enabled": True, "policy.lora.r": 4},
    )
    store = ModelStore(settings.resolved_model_dir)
    worker = Worker(settings, factory, heartbeat_seconds=0.2)
    uris = []
    for _ in range(2):
        with transaction(factory) as db:
            run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
        assert worker.serve(once=True) == 1
        with transaction(factory) as db:
            run = db.get(TrainingRun, run_id)
            assert run is not None and run.status == "succeeded", (run.error, run.log)
            version = db.get(PolicyVersion, run.policy_version_id)
            assert version is not None and version.status == "active"
            uris.append(version.checkpoint_uri)
    v0 = ModelStore.policy_uri(project_id, 0)
    for uri in uris:
        assert store.is_adapter(uri) and store.adapter_base(uri) == v0
    assert not store.is_adapter(v0)


def test_report_to_tensorboard_writes_beside_the_run_or_fails_saying_what_is_missing(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    from trainer.workspace import trackers_missing

    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        config = tiny_overrides(
            tiny_reward_dir, **{"gates.min_reward_gain": -1e9, "report_to": "tensorboard"}
        )
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1
    logs = settings.resolved_model_dir / f"projects/{project_id}/runs/run{run_id}/logs"
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        if trackers_missing(["tensorboard"]):  # not installed here: a clear refusal, no training
            assert run.status == "failed"
            assert run.error is not None and "report_to names tensorboard" in run.error
            assert "pip install tensorboard" in run.error and not logs.exists()
            return
        assert run.status == "succeeded", run.error
    for stage in ("reward", "policy"):
        assert list((logs / stage).glob("events.out.tfevents.*")), stage


def test_a_reward_run_on_a_ranked_project_trains_on_the_implied_pairs(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    from app.models import Ranking, RankingItem
    from tests.factories import compare, make_prompt, ranking_task

    factory = make_sessionmaker(committed_engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        project.settings = {**(project.settings or {}), "ranking_k": 4}
        v0 = version_zero(db, project, settings.resolved_model_dir, tiny_policy_dir)
        user = create_user(db, settings, "ranker", "correct horse battery", {"evaluator"})
        for n in range(4):
            prompt = make_prompt(db, project, f"Question {n}?")
            texts = [f"Thanks! {n} is {'very ' * k}good." for k in range(4)]
            task = ranking_task(db, project, prompt, v0, texts)
            comparison = compare(db, task, user, "b")
            ids = list(
                db.scalars(
                    select(RankingItem.completion_id)
                    .where(RankingItem.pair_id == task.id)
                    .order_by(RankingItem.position)
                )
            )
            db.add(
                Ranking(
                    project_id=project.id,
                    pair_id=task.id,
                    user_id=user.id,
                    comparison_id=comparison.id,
                    tiers=[[i] for i in reversed(ids)],
                )
            )
        project_id = project.id
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db,
            settings,
            project_id,
            kind="reward",
            recipe="tiny",
            config=tiny_overrides(tiny_reward_dir, min_comparisons=4),
        ).id
    Worker(settings, factory).serve(once=True)
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "succeeded", (run.error, run.log)
        data = run.metrics["data"]
        assert data["rankings"] == 4 and data["train"] + data["validation"] == 24
        assert run.metrics["reward"]["ranking_pairs"] == run.metrics["reward"]["train_pairs"] > 0


def test_rl_stops_at_what_the_kl_budget_leaves_and_the_gate_names_the_budget(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        # The active version's lineage has spent 5 already: a budget of 1 leaves it nothing.
        v0 = db.scalar(select(PolicyVersion).where(PolicyVersion.project_id == project_id))
        assert v0 is not None
        v0.metrics = {"evaluation": {"kl_total": 5.0}}
        overrides = {"gates.min_reward_gain": -1e9, "gates.kl_budget": 1.0, "policy.steps": 3}
        config = tiny_overrides(tiny_reward_dir, **overrides)
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1

    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None and run.status == "succeeded", (run and run.error, run and run.log)
        policy = run.metrics["policy"]
        assert policy["steps"] == 1 and policy["kl_budget"]["stopped_at_step"] == 1
        assert policy["kl_budget"]["budget"] == pytest.approx(-4.0)
        assert any("KL along the lineage" in r for r in run.metrics["gates"]["reasons"])
