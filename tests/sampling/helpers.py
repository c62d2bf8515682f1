"""Shared helpers for sampler tests: settings, prompts, a registered version, a fake backend."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Pair, PolicyVersion, Project, Prompt
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


def add_prompt(
    db: Session,
    project: Project,
    text: str,
    *,
    priority: int = 0,
    tags: list[str] | None = None,
    messages: list[dict[str, Any]] | None = None,
    active: bool = True,
    held_out: bool = False,
) -> Prompt:
    prompt = Prompt(
        project_id=project.id,
        text=text,
        messages=messages,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        tags=tags or [],
        priority=priority,
        active=active,
        held_out=held_out,
    )
    db.add(prompt)
    db.flush()
    return prompt


def add_version(
    db: Session, project: Project, number: int, uri: str, status: str = "active"
) -> PolicyVersion:
    if status == "active":
        for old in db.scalars(
            select(PolicyVersion).where(
                PolicyVersion.project_id == project.id, PolicyVersion.status == "active"
            )
        ):
            old.status = "archived"
    version = PolicyVersion(
        project_id=project.id, number=number, checkpoint_uri=uri, base_model="tiny", status=status
    )
    db.add(version)
    db.flush()
    return version


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
