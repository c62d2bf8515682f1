"""The configured base model, converted once into a plain safetensors checkpoint (version 0).

Registering the version-0 row is `app.domain.versions.ensure_version_zero`.

A GGUF-loaded model cannot be saved or trained as is, so it is rebuilt as a plain model
from its config (quantization config removed), its dequantised weights loaded into it and
saved as safetensors with the tokenizer. Hugging Face ids and local folders are loaded
(safetensors only) and saved the same way, so every version lives in the model store.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from app.domain.bundled import SMOLLM2_GGUF, smollm2_dir
from app.domain.store import ModelStore, StoreError

log = logging.getLogger(__name__)

Dtype = Literal["bfloat16", "float32"]

# transformers builds models on the meta device by patching torch globally while it loads,
# so two threads loading at once corrupt each other ("Cannot copy out of meta tensor").
LOAD_LOCK = threading.Lock()


def resolve_source(name: str) -> tuple[str, str | None]:
    """(folder or model id, GGUF file name or None) for a base-model setting."""
    if name == "smollm2":
        return str(smollm2_dir()), SMOLLM2_GGUF
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        has_weights = any(path.glob("*.safetensors"))
        if ggufs and not has_weights:
            return str(path), ggufs[0].name
        return str(path), None
    if name.startswith((".", "/", "~")):
        raise StoreError(f"base model folder not found: {name}")
    return name, None  # a Hugging Face model id


def convert(source: str, dest: Path, dtype: Dtype = "float32") -> Path:
    """Write `source` (see `resolve_source`) into `dest` as safetensors + config + tokenizer."""
    import torch

    folder, gguf_file = resolve_source(source)
    torch_dtype = getattr(torch, dtype)
    with LOAD_LOCK:
        _convert(folder, gguf_file, dest, torch_dtype)
    return dest


def _convert(folder: str, gguf_file: str | None, dest: Path, torch_dtype: Any) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if gguf_file:
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        config_dict: dict[str, Any] = loaded.config.to_dict()
        config_dict.pop("quantization_config", None)
        config_dict.pop("_name_or_path", None)
        config = AutoConfig.for_model(**config_dict)
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(loaded.state_dict())
        model.generation_config = loaded.generation_config
        del loaded
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    model = model.to(torch_dtype)
    model.config.dtype = torch_dtype
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)


@contextmanager
def _store_lock(store: ModelStore, uri: str) -> Iterator[None]:
    """An exclusive file lock beside the checkpoint: one converter at a time per machine."""
    target = store.path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f".{target.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_checkpoint(store: ModelStore, uri: str, source: str, dtype: Dtype) -> bool:
    """Convert `source` into the store at `uri` unless it is there already; True if converted."""
    if store.exists(uri):
        return False
    with _store_lock(store, uri):
        if store.exists(uri):  # another process converted it while we waited
            return False
        staged = store.staging(uri)
        try:
            log.info("converting base model %s into the model store (once)", source)
            convert(source, staged, dtype)
            store.commit(staged, uri, {"kind": "policy", "number": 0, "base_model": source})
        except BaseException:
            store.discard(staged)
            raise
    return True
