"""A LoRA-adapter version in the model store is sampled in-process on its base weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from app.domain.store import ModelStore, StoreError
from app.sampling.backend import SampleRequest, VersionRef
from app.sampling.transformers_backend import TransformersBackend
from tests.factories.sampling import sampler_settings


def test_the_transformers_sampler_loads_an_adapter_version_on_its_base(
    tiny_policy_dir: Path, tmp_path: Path
) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    store = ModelStore(tmp_path / "store")
    v0, v1 = ModelStore.policy_uri(1, 0), ModelStore.policy_uri(1, 1)
    shutil.copytree(tiny_policy_dir, store.path(v0))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_policy_dir), use_safetensors=True)
    # init_lora_weights=False: a random adapter, so the version answers differently from v0.
    lora = LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(store.path(v1), safe_serialization=True)
    (store.path(v1) / "pairwise.json").write_text(json.dumps({"adapter_of": v0}))
    shutil.copy(store.path(v0) / "tokenizer.json", store.path(v1))
    shutil.copy(store.path(v0) / "tokenizer_config.json", store.path(v1))

    backend = TransformersBackend(sampler_settings(tmp_path, max_new_tokens=8), store)
    requests = [SampleRequest(1, "Hello there", None, seed=s) for s in (1, 2, 3)]
    backend.load(VersionRef(1, 1, 0, v0))
    base_texts = [s.text for s in backend.generate(requests)]
    backend.load(VersionRef(2, 1, 1, v1))
    adapter_texts = [s.text for s in backend.generate(requests)]
    assert adapter_texts != base_texts

    (store.path(v1) / "pairwise.json").write_text("{}")
    with pytest.raises(StoreError, match="does not name its base weights"):
        backend.load(VersionRef(2, 1, 1, v1))
