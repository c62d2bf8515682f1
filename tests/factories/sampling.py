"""Sampler tests' settings, a count of open pairs and a fake backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Pair
from app.sampling.backend import Sample, SampleRequest, VersionRef
from app.settings import Settings


def sampler_settings(tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "pairwise_env": "test",
        "data_dir": tmp,
        "secret_key": "t" * 48,
        "database_url": "sqlite://",
        "sampler_enabled": False,
        "pair_buffer": 6,
        "pair_low_water": 3,
        "sample_batch_size": 4,
        "max_new_tokens": 8,
        "sampler_poll_seconds": 0.2,
        "sampler_dtype": "float32",
    }
    values.update(overrides)
    return Settings(**values)


def open_pairs(db: Session, project_id: int, version_id: int | None = None) -> int:
    stmt = select(func.count(Pair.id)).where(Pair.project_id == project_id, Pair.status == "open")
    if version_id is not None:
        stmt = stmt.where(Pair.policy_version_id == version_id)
    return int(db.scalar(stmt) or 0)


class FakeBackend:
    """Deterministic text per request, for checks the random model cannot make reliably."""

    name = "fake"

    def __init__(self, text: Callable[[SampleRequest, int], str]) -> None:
        self.text = text
        self.loaded: list[VersionRef] = []
        self.calls: list[int] = []

    def load(self, version: VersionRef) -> None:
        self.loaded.append(version)

    def generate(self, requests: list[SampleRequest]) -> list[Sample]:
        self.calls.append(len(requests))
        return [
            Sample(
                self.text(r, i),
                prompt_tokens=3,
                completion_tokens=5,
                seed=r.seed,
                finish_reason="stop",
            )
            for i, r in enumerate(requests)
        ]

    def close(self) -> None:
        pass
