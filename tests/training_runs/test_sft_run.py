"""A run whose recipe enables the sft stage: demonstrations train the policy before RL, and
with `demonstrations_preferred` they also become preference rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_user
from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.domain.store import ModelStore
from app.models import Pair, PolicyVersion, Prompt, TrainingRun
from app.projects.service import ensure_default_project
from app.settings import Settings
from app.vocabulary import DemonstrationStatus
from tests.factories import demonstration
from tests.factories.training import labelled_pairs, version_zero
from trainer.worker import Worker


def seed(factory: sessionmaker[Session], settings: Settings, policy_dir: Path) -> int:
    """16 labelled pairs; three demonstrations on pairs, one of them rejected."""
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        v0 = version_zero(db, project, settings.resolved_model_dir, policy_dir)
        user = create_user(db, settings, "judge", "correct horse battery", {"evaluator"})
        pairs = labelled_pairs(db, project, v0, user, 16, prompts=8)
        for i, pair in enumerate(pairs[:3]):
            prompt = db.get_one(Prompt, pair.prompt_id)
            status = DemonstrationStatus.rejected if i == 2 else DemonstrationStatus.pending
            demonstration(
                db, prompt, user.id, f"Thank you kindly! It is {i}.", pair=pair, status=status
            )
        return project.id


def test_sft_stage_runs_first_and_demonstrations_count_as_preferred(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    overrides = {
        "reward.base_model": str(tiny_reward_dir),
        "gates.min_reward_gain": -1e9,
        "sft.enabled": True,
        "demonstrations_preferred": True,
    }
    with transaction(factory) as db:
        config = {"overrides": overrides}
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1

    with transaction(factory) as db:
        run = db.get_one(TrainingRun, run_id)
        assert run.status == "succeeded", (run.error, run.log)
        assert run.progress == 1.0
        data = run.metrics["data"]
        assert data["demonstrations"] == 2  # the rejected one never trains
        assert data["demonstration_pairs"] == 4  # each preferred over both responses
        assert data["train"] + data["validation"] == 16 + 4
        assert run.metrics["sft"]["demonstrations"] == 2 and run.metrics["sft"]["steps"] >= 1
        stages = [s for s in run.metrics["timings"] if s != "starting"]
        assert stages[:3] == ["data", "sft", "reward"]
        assert run.config["demonstration_watermark"] >= 2
        assert "stage sft" in run.log
        version = db.get_one(PolicyVersion, run.policy_version_id)
        assert "sft" in version.metrics


def test_sft_without_demonstrations_fails_fast(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        v0 = version_zero(db, project, settings.resolved_model_dir, tiny_policy_dir)
        user = create_user(db, settings, "judge", "correct horse battery", {"evaluator"})
        labelled_pairs(db, project, v0, user, 8)
        config = {"overrides": {"reward.base_model": str(tiny_reward_dir), "sft.enabled": True}}
        run_id = jobs.enqueue(db, settings, project.id, recipe="tiny", config=config).id
        assert db.scalar(select(Pair.id).limit(1)) is not None
    Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True)
    with transaction(factory) as db:
        run = db.get_one(TrainingRun, run_id)
        assert run.status == "failed" and "Not enough demonstrations" in (run.error or "")
        # A reward run has no sft stage: the same recipe trains it without demonstrations.
        reward_id = jobs.enqueue(db, settings, project.id, kind="reward", recipe="tiny").id
        reward = db.get_one(TrainingRun, reward_id)
        reward.config = config
    Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True)
    with transaction(factory) as db:
        run = db.get_one(TrainingRun, reward_id)
        assert run.status == "succeeded", run.error


def test_sft_then_rl_with_lora_keeps_one_adapter_on_the_base(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    overrides = {
        "reward.base_model": str(tiny_reward_dir),
        "gates.min_reward_gain": -1e9,
        "sft.enabled": True,
        "policy.lora.enabled": True,
    }
    with transaction(factory) as db:
        config = {"overrides": overrides}
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config).id
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1
    with transaction(factory) as db:
        run = db.get_one(TrainingRun, run_id)
        assert run.status == "succeeded", (run.error, run.log)
        version = db.get_one(PolicyVersion, run.policy_version_id)
        store = ModelStore(settings.resolved_model_dir)
        assert store.is_adapter(version.checkpoint_uri)  # served on v0's weights
