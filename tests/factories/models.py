"""Tiny random models for tests, built once per machine into a temp cache (no download)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app.domain.bundled import build_tiny_policy, build_tiny_reward

CACHE = Path(
    os.environ.get("PAIRWISE_TEST_MODELS") or Path(tempfile.gettempdir()) / "pairwise-test-models"
)


@pytest.fixture(scope="session")
def tiny_policy_dir() -> Path:
    """Folder with a 2-layer random Llama + SmolLM2 tokenizer (safetensors)."""
    import torch

    torch.set_num_threads(1)
    CACHE.mkdir(parents=True, exist_ok=True)
    return build_tiny_policy(CACHE / "tiny-policy-v1")


@pytest.fixture(scope="session")
def tiny_reward_dir() -> Path:
    """Folder with a 2-layer random BERT scorer + MiniLM tokenizer (safetensors)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    return build_tiny_reward(CACHE / "tiny-reward-v1")


@pytest.fixture(scope="session")
def tiny_policy_model(tiny_policy_dir: Path) -> Any:
    """The tiny random policy loaded for inference (float32, eval mode)."""
    import torch

    from app.domain.checkpoints import load_causal_lm

    return load_causal_lm(tiny_policy_dir, dtype=torch.float32).eval()
