"""The model store keeps checkpoints inside its root and publishes them atomically."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from app.domain.store import ModelStore, StoreError, assert_safetensors_only


def test_uris_cannot_leave_the_store(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.path("projects/1/policy/v0") == tmp_path / "projects/1/policy/v0"
    for bad in ("../etc", "/etc/passwd", "projects/../../x", ""):
        with pytest.raises(StoreError):
            store.path(bad)


def test_commit_needs_safetensors_and_is_atomic(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    uri = store.policy_uri(1, 2)
    staged = store.staging(uri)
    with pytest.raises(StoreError, match="no safetensors"):
        store.commit(staged, uri)
    (staged / "model.safetensors").write_bytes(b"x")
    final = store.commit(staged, uri, {"version": 2})
    assert store.exists(uri) and (final / "pairwise.json").exists() and not staged.exists()


def test_pickles_refused(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(StoreError, match="pickled"):
        assert_safetensors_only(tmp_path)


def test_staging_clears_what_a_killed_attempt_left_behind(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    dead = store.staging(store.reward_uri(1, 7))
    (dead / "model.safetensors").write_bytes(b"half")
    other_run = store.staging(store.reward_uri(1, 70))
    retry = store.staging(store.reward_uri(1, 7))
    assert retry.exists() and not dead.exists() and other_run.exists()


def test_write_failures_are_told_apart_from_other_errors(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.write_failure(OSError(errno.ENOSPC, "No space left")) == os.strerror(errno.ENOSPC)
    blocked = FileExistsError(errno.EEXIST, "File exists", str(tmp_path / "projects/1/reward"))
    assert store.write_failure(blocked) == f"File exists: {tmp_path / 'projects/1/reward'}"
    elsewhere = FileNotFoundError(errno.ENOENT, "No such file", "/elsewhere")
    assert store.write_failure(elsewhere) is None
    assert store.write_failure(ValueError("nan loss")) is None
