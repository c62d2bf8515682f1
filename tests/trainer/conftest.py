"""Shared fixtures for the trainer stages: the tiny recipe and a reward model trained once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.domain.recipe import TrainingConfig, load_recipe
from trainer.reward import train_reward_model
from trainer.synthetic import synthetic_comparisons
from trainer.types import PreferenceRow, never_stop, no_progress


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def tiny_cfg() -> TrainingConfig:
    return load_recipe("tiny")


def split_by_prompt(rows: list[PreferenceRow], val_share: float = 0.25):
    ids = sorted({r.prompt_id for r in rows})
    cut = ids[int(len(ids) * (1 - val_share))]
    return [r for r in rows if r.prompt_id < cut], [r for r in rows if r.prompt_id >= cut]


@pytest.fixture(scope="session")
def keyword_rows() -> list[PreferenceRow]:
    return synthetic_comparisons(160, rule="keyword", seed=3)


@pytest.fixture(scope="session")
def trained_reward(tmp_path_factory, tiny_reward_dir: Path, keyword_rows) -> tuple[Path, dict]:
    """A tiny reward model trained on the keyword rule (held-out prompts for validation)."""
    torch.set_num_threads(1)
    train, val = split_by_prompt(keyword_rows)
    out = tmp_path_factory.mktemp("reward") / "r1"
    metrics = train_reward_model(
        train, val, tiny_reward_dir, out, load_recipe("tiny").reward, no_progress, never_stop
    )
    return out, metrics
