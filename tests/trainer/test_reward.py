"""The reward model learns a hidden rule and generalises to unseen prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.scorer import RewardScorer, reward_text
from trainer.reward import train_reward_model
from trainer.synthetic import KEYWORD
from trainer.types import Cancelled, PreferenceRow, never_stop, no_progress

from .conftest import split_by_prompt

pytestmark = pytest.mark.trainer


def test_reward_model_beats_chance_on_heldout_prompts(trained_reward, keyword_rows) -> None:
    path, metrics = trained_reward
    train, val = split_by_prompt(keyword_rows)
    assert not {r.prompt_id for r in train} & {r.prompt_id for r in val}
    assert metrics["val_pairs"] == len(val) == 40
    assert metrics["val_accuracy"] >= 0.75
    assert set(metrics["accuracy_by_strength"]) <= {"slightly", "clearly", "much"}
    assert metrics["loss_curve"] and metrics["loss_curve"][-1][1] < metrics["loss_curve"][0][1]
    assert (path / "model.safetensors").exists() and not list(path.glob("*.bin"))

    scorer = RewardScorer(path)
    assert scorer.max_length == 128  # the tiny recipe's reward.max_length travels with the model
    prompt = "How do I repair a fence?"  # a prompt not in the data
    good, bad = scorer.score(
        [prompt, prompt],
        [f"{KEYWORD}, measure twice before you commit.", "Measure twice before you commit."],
    )
    assert good > bad


def test_previous_model_scored_on_same_validation(
    tmp_path: Path, tiny_reward_dir: Path, trained_reward, keyword_rows, tiny_cfg
) -> None:
    previous, first = trained_reward
    train, val = split_by_prompt(keyword_rows)
    metrics = train_reward_model(
        train[:16],
        val,
        tiny_reward_dir,
        tmp_path / "r2",
        tiny_cfg.reward,
        no_progress,
        never_stop,
        previous=previous,
    )
    assert metrics["previous_val_accuracy"] == pytest.approx(first["val_accuracy"])


def test_long_rows_are_counted(tmp_path: Path, tiny_reward_dir: Path, tiny_cfg) -> None:
    long = "word " * 400
    rows = [PreferenceRow(f"q{i}", f"{long} good", "bad", None, i) for i in range(4)]
    cfg = tiny_cfg.reward
    cfg.max_length = 64
    kept = train_reward_model(
        rows, [], tiny_reward_dir, tmp_path / "a", cfg, no_progress, never_stop
    )
    assert kept["truncated_rows"] == 4 and kept["train_pairs"] == 4
    cfg.truncate_long_rows = False
    with pytest.raises(ValueError, match="longer than reward.max_length=64"):
        train_reward_model(rows, [], tiny_reward_dir, tmp_path / "b", cfg, no_progress, never_stop)


def test_cancel_writes_no_checkpoint(
    tmp_path: Path, tiny_reward_dir: Path, keyword_rows, tiny_cfg
) -> None:
    calls = []

    def stop_after_two_steps() -> bool:
        calls.append(1)
        return len(calls) > 3

    out = tmp_path / "r"
    with pytest.raises(Cancelled):
        train_reward_model(
            keyword_rows,
            [],
            tiny_reward_dir,
            out,
            tiny_cfg.reward,
            no_progress,
            stop_after_two_steps,
        )
    assert not (out / "model.safetensors").exists()


def test_reward_text_separates_prompt_and_answer() -> None:
    chat = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    text = reward_text(chat, "Hello!")
    assert text.index("Be kind.") < text.index("Hi") < text.index("Response") < text.index("Hello!")
    assert reward_text("Hi", "Hello!") != "HiHello!"


def test_ranking_batches_keep_each_rankings_pairs_together() -> None:
    from trainer.reward import RankingBatches

    groups = [1] * 6 + [2] * 6 + [3] + [4] + [5] * 3
    batches = RankingBatches(groups, batch_size=8, seed=0)
    seen = [i for batch in batches for i in batch]
    assert sorted(seen) == list(range(len(groups)))
    for batch in batches:
        assert len(batch) <= 8
        for group in {groups[i] for i in batch}:
            assert all(groups[i] != group for other in batches if other is not batch for i in other)
    assert len(list(batches)) == len(batches)


def _gap(path: Path, rows: list[PreferenceRow]) -> float:
    scorer = RewardScorer(path)
    chosen = scorer.score([r.prompt for r in rows], [r.chosen for r in rows])
    rejected = scorer.score([r.prompt for r in rows], [r.rejected for r in rows])
    return sum(c - r for c, r in zip(chosen, rejected, strict=True)) / len(rows)


def test_strength_margin_widens_the_reward_gap(
    tmp_path: Path, tiny_reward_dir: Path, keyword_rows, tiny_cfg
) -> None:
    train, val = split_by_prompt(keyword_rows)
    for row in train:
        row.strength = "much"
    plain = train_reward_model(
        train, val, tiny_reward_dir, tmp_path / "plain", tiny_cfg.reward, no_progress, never_stop
    )
    cfg = tiny_cfg.reward.model_copy(update={"strength_margin": 3.0})
    margin = train_reward_model(
        train, val, tiny_reward_dir, tmp_path / "margin", cfg, no_progress, never_stop
    )
    assert margin["strength_margin"] == 3.0 and plain["strength_margin"] == 0.0
    assert _gap(tmp_path / "margin", val) > _gap(tmp_path / "plain", val)


def test_annotator_weights_let_trusted_rows_outvote_untrusted_ones(
    tmp_path: Path, tiny_reward_dir: Path, keyword_rows, tiny_cfg
) -> None:
    train, val = split_by_prompt(keyword_rows)
    # Half the training rows come from an annotator who answers backwards (low gold accuracy).
    noisy = [
        PreferenceRow(r.prompt, r.rejected, r.chosen, r.strength, r.prompt_id, weight=0.05)
        if i % 2
        else PreferenceRow(r.prompt, r.chosen, r.rejected, r.strength, r.prompt_id, weight=1.0)
        for i, r in enumerate(train)
    ]
    cfg = tiny_cfg.reward.model_copy(update={"annotator_weights": True, "epochs": 4.0})
    weighted = train_reward_model(
        noisy, val, tiny_reward_dir, tmp_path / "weighted", cfg, no_progress, never_stop
    )
    unweighted = train_reward_model(
        noisy,
        val,
        tiny_reward_dir,
        tmp_path / "unweighted",
        cfg.model_copy(update={"annotator_weights": False}),
        no_progress,
        never_stop,
    )
    assert weighted["mean_row_weight"] == pytest.approx(0.525)
    assert weighted["val_accuracy"] >= 0.75
    assert weighted["val_accuracy"] > unweighted["val_accuracy"]
