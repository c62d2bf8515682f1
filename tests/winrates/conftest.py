"""Fewer bootstrap resamples than the default keeps these tests quick on a shared CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        pairwise_env="test",
        data_dir=tmp_path,
        secret_key="t" * 48,
        sampler_enabled=False,
        database_url="sqlite://",
        leaderboard_bootstrap=60,
    )  # type: ignore[call-arg]
