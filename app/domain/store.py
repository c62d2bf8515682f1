"""The model store: a folder of checkpoints (safetensors + config + tokenizer + JSON metadata).

Checkpoint URIs stored in the database are paths relative to the store root, e.g.
`projects/1/policy/v3` or `projects/1/reward/r2`, so the store can move (a shared volume
mounted elsewhere) without rewriting rows. Only safetensors weights are ever loaded.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")
METADATA_FILE = "pairwise.json"
ADAPTER_CONFIG = "adapter_config.json"  # a LoRA adapter (peft) rather than full weights
ADAPTER_BASE_KEY = "adapter_of"  # in METADATA_FILE: the URI of the weights it adapts
# Errors that only a write can meet: full disk or quota, file size limit, read-only mount.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


class StoreError(ValueError):
    pass


class ModelStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, uri: str) -> Path:
        """Absolute folder of a checkpoint URI; refuses URIs that leave the store."""
        rel = PurePosixPath(uri)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise StoreError(f"checkpoint URI must be relative to the store: {uri!r}")
        return self.root.joinpath(*rel.parts)

    @staticmethod
    def policy_uri(project_id: int, number: int) -> str:
        return f"projects/{project_id}/policy/v{number}"

    @staticmethod
    def policy_run_uri(project_id: int, run_id: int) -> str:
        """Where a run stages its policy before it has a version number."""
        return f"projects/{project_id}/policy/run{run_id}"

    @staticmethod
    def reward_uri(project_id: int, run_id: int) -> str:
        return f"projects/{project_id}/reward/run{run_id}"

    @staticmethod
    def run_work_uri(project_id: int, run_id: int) -> str:
        """A run's work folder: checkpoints a retry resumes from, tracker logs (they stay)."""
        return f"projects/{project_id}/runs/run{run_id}"

    @staticmethod
    def run_logs_uri(project_id: int, run_id: int) -> str:
        """Where TensorBoard writes a run's stages (`<stage>/` each), kept after the run."""
        return f"projects/{project_id}/runs/run{run_id}/logs"

    @staticmethod
    def tracker_run_name(project_id: int, run_id: int) -> str:
        """The run's name in experiment trackers (W&B, MLflow, trackio): `<name>-<stage>`."""
        return f"pairwise-p{project_id}-run{run_id}"

    def exists(self, uri: str) -> bool:
        folder = self.path(uri)
        return any((folder / name).exists() for name in WEIGHT_FILES)

    def metadata(self, uri: str) -> dict[str, Any]:
        """The JSON metadata written beside a checkpoint at `commit` ({} when there is none)."""
        path = self.path(uri) / METADATA_FILE
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}

    def is_adapter(self, uri: str) -> bool:
        """Whether the checkpoint is a LoRA adapter (served on top of its base weights)."""
        return (self.path(uri) / ADAPTER_CONFIG).is_file()

    def adapter_base_path(self, uri: str) -> Path | None:
        """The folder of the full weights a LoRA adapter applies to; None for full weights."""
        base = self.adapter_base(uri)
        return self.path(base) if base else None

    def adapter_base(self, uri: str) -> str | None:
        """The URI of the full weights a LoRA adapter applies to; None for full weights."""
        if not self.is_adapter(uri):
            return None
        base = self.metadata(uri).get(ADAPTER_BASE_KEY)
        if not isinstance(base, str) or not base:
            raise StoreError(f"adapter {uri} does not name its base weights ({ADAPTER_BASE_KEY})")
        return base

    def staging(self, uri: str) -> Path:
        """A fresh temporary folder beside the target; `commit` moves it into place."""
        target = self.path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A trainer killed mid-write leaves its staging folder behind; the retry clears it.
        for stale in target.parent.glob(f".{target.name}.*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.mkdir()
        return tmp

    def commit(self, staged: Path, uri: str, metadata: dict[str, Any] | None = None) -> Path:
        """Atomically publish a staged checkpoint (a rename); refuses one without safetensors."""
        if not any((staged / name).exists() for name in WEIGHT_FILES):
            raise StoreError(f"no safetensors weights in {staged.name}")
        if metadata is not None:
            (staged / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str))
        target = self.path(uri)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(target)
        return target

    def discard(self, staged: Path) -> None:
        shutil.rmtree(staged, ignore_errors=True)

    def write_failure(self, exc: BaseException) -> str | None:
        """Why a write into the store failed (full disk, not writable, ...), else None."""
        if isinstance(exc, OSError):
            if exc.errno in WRITE_ERRNOS:
                return os.strerror(exc.errno)
            if exc.filename and Path(exc.filename).is_relative_to(self.root):
                return f"{exc.strerror}: {exc.filename}"
        # safetensors reports a failed save as its own error type, with the OS reason inside.
        if type(exc).__name__ == "SafetensorError" and "serializ" in str(exc):
            return str(exc)
        return None


def assert_safetensors_only(folder: Path) -> None:
    """Refuse folders whose weights are pickles (`*.bin`, `*.pt`, `*.pth`, `*.ckpt`)."""
    pickles = [
        p.name for ext in ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl") for p in folder.glob(ext)
    ]
    if pickles:
        raise StoreError(f"refusing pickled weights in {folder.name}: {', '.join(sorted(pickles))}")
