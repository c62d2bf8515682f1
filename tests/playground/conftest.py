"""Playground tests: tiny policy versions in the model store, short answers."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.domain.store import ModelStore
from app.models import PolicyVersion, Project
from app.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"max_new_tokens": 6, "sampler_dtype": "float32", "leaderboard_bootstrap": 20}
    )


@pytest.fixture
def add_version(
    db: Session, settings: Settings, project: Project, tiny_policy_dir: Path
) -> Callable[[int], PolicyVersion]:
    """A version of the project whose checkpoint is the tiny random policy."""
    store = ModelStore(settings.resolved_model_dir)

    def add(number: int, status: str = "archived") -> PolicyVersion:
        uri = f"projects/{project.id}/policy/v{number}"
        if not store.path(uri).exists():
            shutil.copytree(tiny_policy_dir, store.path(uri))
        version = PolicyVersion(
            project_id=project.id,
            number=number,
            checkpoint_uri=uri,
            base_model="tiny",
            status=status,
        )
        db.add(version)
        db.commit()
        return version

    return add


def events(body: str) -> list[tuple[str, dict]]:
    """The server-sent events of a response body, as (name, data)."""
    import json

    out = []
    for block in body.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        name = next(line[6:].strip() for line in lines if line.startswith("event:"))
        data = json.loads("".join(line[5:].strip() for line in lines if line.startswith("data:")))
        out.append((name, data))
    return out
