"""Version 0: the base model converted once into the store and registered once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.store import METADATA_FILE, ModelStore
from app.domain.versions import ensure_version_zero
from app.models import PolicyVersion, Project
from tests.factories.sampling import sampler_settings


def test_version_zero_from_a_local_folder_is_converted_and_registered_once(
    db: Session, project: Project, tiny_policy_dir: Path, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, policy_base_model=str(tiny_policy_dir))
    store = ModelStore(tmp_path / "models")
    project.base_policy_model = str(tiny_policy_dir)
    db.flush()

    first = ensure_version_zero(db, settings, project, store)
    folder = store.path(first.checkpoint_uri)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    second = ensure_version_zero(db, settings, project, store)

    assert first.id == second.id
    rows = list(db.scalars(select(PolicyVersion).where(PolicyVersion.project_id == project.id)))
    assert [(v.number, v.status) for v in rows] == [(0, "active")]
    assert first.checkpoint_uri == f"projects/{project.id}/policy/v0"
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not converted twice
    assert (folder / "tokenizer.json").exists()
    assert not list(folder.glob("*.bin"))
    config = json.loads((folder / "config.json").read_text())
    assert config["dtype"] == "float32"
    assert json.loads((folder / METADATA_FILE).read_text())["base_model"] == str(tiny_policy_dir)


def test_a_missing_base_folder_is_a_clear_error(
    db: Session, project: Project, tmp_path: Path
) -> None:
    import pytest

    from app.domain.store import StoreError

    settings = sampler_settings(tmp_path)
    with pytest.raises(StoreError, match="base model folder not found"):
        ensure_version_zero(db, settings, project, ModelStore(tmp_path), source="./nowhere")
    assert db.scalar(select(PolicyVersion).where(PolicyVersion.project_id == project.id)) is None
