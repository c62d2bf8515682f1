"""Imported preference data in a reward-model run (recipe option), then reverted; and the
HF dataset export loaded with `datasets.load_from_disk` and trained one TRL step on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.export.hf import write_hf_dataset
from app.export.service import ExportOptions
from app.imports.records import collect
from app.imports.service import import_preferences, revert_import
from app.models import ImportedComparison, PreferenceImport, Prompt, TrainingRun
from app.projects.service import ensure_default_project
from app.prompts.importer import read_rows
from app.settings import Settings
from tests.factories import compare, make_pair
from tests.factories.training import version_zero
from trainer.worker import Worker

pytestmark = pytest.mark.trainer


def preference_file(n: int) -> bytes:
    rows = [
        {"prompt": f"question {i}", "chosen": f"a kind answer {i}", "rejected": f"go away {i}"}
        for i in range(n)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def run_reward(
    factory, settings: Settings, project_id: int, reward_dir: Path, **extra
) -> TrainingRun:  # type: ignore[no-untyped-def]
    overrides = {"reward.base_model": str(reward_dir), "min_comparisons": 8, **extra}
    with transaction(factory) as db:
        run_id = jobs.enqueue(
            db, settings, project_id, kind="reward", recipe="tiny", config={"overrides": overrides}
        ).id
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1
    with transaction(factory) as db:
        run = db.get_one(TrainingRun, run_id)
        db.expunge(run)
        return run


def test_reward_run_uses_an_import_when_the_recipe_asks_and_the_revert_is_clean(
    committed_engine: Engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    factory = make_sessionmaker(committed_engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        version_zero(db, project, settings.resolved_model_dir, tiny_policy_dir)
        unit, rows = read_rows("lab.jsonl", preference_file(12))
        outcome = import_preferences(
            db,
            project,
            collect(unit, rows, 1000),
            source="lab",
            filename="lab.jsonl",
            skip_bad=False,
            actor_id=None,
        )
        assert outcome.batch is not None
        project_id, batch_id = project.id, outcome.batch.id

    without = run_reward(factory, settings, project_id, tiny_reward_dir)
    assert without.status == "failed" and "Not enough data" in (without.error or "")

    used = run_reward(factory, settings, project_id, tiny_reward_dir, include_imported=True)
    assert used.status == "succeeded", (used.error, used.log)
    data = used.metrics["data"]
    assert data["imported"] == 12 and data["train"] + data["validation"] == 12
    assert used.reward_model_id is not None

    with transaction(factory) as db:
        assert revert_import(db, db.get_one(PreferenceImport, batch_id), None) == 12
    with transaction(factory) as db:
        assert db.scalar(select(func.count()).select_from(ImportedComparison)) == 0
        assert db.scalar(select(func.count()).select_from(Prompt)) == 0
    again = run_reward(factory, settings, project_id, tiny_reward_dir, include_imported=True)
    assert again.status == "failed" and "Not enough data" in (again.error or "")


def test_hf_dataset_export_loads_and_trains_one_trl_step(
    db, project, make_user, tmp_path: Path, tiny_reward_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    import datasets
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from app.domain.scorer import load_sequence_scorer, prepare_tokenizer

    unit, rows = read_rows("lab.jsonl", preference_file(6))
    import_preferences(
        db,
        project,
        collect(unit, rows, 1000),
        source="lab",
        filename="x",
        skip_bad=False,
        actor_id=None,
    )
    folder = tmp_path / "trl-dataset"
    opts = ExportOptions(kind="trl", include_imported=True)
    assert write_hf_dataset(db, project, opts, "secret", folder) == 6
    loaded = datasets.load_from_disk(str(folder))
    assert isinstance(loaded, datasets.Dataset) and len(loaded) == 6
    assert set(loaded.column_names) == {"prompt", "chosen", "rejected"}
    vote = compare(db, make_pair(db, project), make_user("evaluator"), "b")
    raw = tmp_path / "raw-dataset"
    assert write_hf_dataset(db, project, ExportOptions(kind="raw"), "secret", raw) == 1
    raw_rows = datasets.load_from_disk(str(raw))
    assert raw_rows[0]["comparison_id"] == vote.id and raw_rows[0]["choice"] == "b"

    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(tiny_reward_dir)))
    model = load_sequence_scorer(tiny_reward_dir)
    model.config.pad_token_id = tokenizer.pad_token_id
    before = [p.detach().clone() for p in model.parameters()]
    args = RewardConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        per_device_train_batch_size=2,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        gradient_checkpointing=False,
        disable_tqdm=True,
        eos_token=tokenizer.sep_token or tokenizer.eos_token,
    )
    trainer = RewardTrainer(
        model=model, args=args, train_dataset=loaded, processing_class=tokenizer
    )
    trainer.train()
    assert trainer.state.global_step == 1
    assert any(not (a == b).all() for a, b in zip(before, model.parameters(), strict=True))
