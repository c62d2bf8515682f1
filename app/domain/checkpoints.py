"""A policy checkpoint loaded for generation: full weights, or a LoRA adapter on its base.

An adapter version keeps only its LoRA weights in the model store (`ModelStore.is_adapter`,
the base named by `ModelStore.adapter_base`); it is loaded here onto its base weights with
transformers' own PEFT integration (the `peft` package must be installed where it runs).
Only safetensors are loaded, for the base and the adapter alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.domain.store import ADAPTER_CONFIG, StoreError, assert_safetensors_only

__all__ = ["is_adapter_folder", "load_causal_lm"]


def is_adapter_folder(folder: Path) -> bool:
    """Whether a checkpoint folder holds a LoRA adapter rather than full weights."""
    return (folder / ADAPTER_CONFIG).is_file()


def load_causal_lm(folder: Path, base: Path | None = None, **kwargs: Any) -> Any:
    """The causal LM in `folder`; an adapter folder is applied to the full weights in `base`."""
    from transformers import AutoModelForCausalLM

    assert_safetensors_only(folder)
    if not is_adapter_folder(folder):
        return AutoModelForCausalLM.from_pretrained(str(folder), use_safetensors=True, **kwargs)
    if base is None:
        raise StoreError(f"{folder.name} is a LoRA adapter: its base weights are needed to load it")
    assert_safetensors_only(base)
    model = AutoModelForCausalLM.from_pretrained(str(base), use_safetensors=True, **kwargs)
    model.load_adapter(str(folder))
    return model
