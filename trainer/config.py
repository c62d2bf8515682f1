"""Typed training configuration: one dataclass per stage, YAML recipes keyed by field names.

A recipe (`trainer/recipes/<name>.yaml`) sets any subset of the fields; overrides are a dict
with the same shape, or dotted keys (`{"policy.lr": 1e-5}`). Unknown keys are refused with a
message naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RECIPES_DIR = Path(__file__).parent / "recipes"


class ConfigError(ValueError):
    pass


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class RewardSection:
    base_model: str = _f(
        "minilm", '"minilm" (the bundled MiniLM-L6), a Hugging Face model id or a local folder'
    )
    lr: float = _f(5e-5, "learning rate of the reward model (AdamW)")
    epochs: float = _f(3.0, "passes over the training comparisons")
    batch_size: int = _f(8, "comparison pairs per optimiser step")
    max_length: int = _f(512, "tokens per prompt+response; longer rows are cut from the left")
    truncate_long_rows: bool = _f(
        True, "cut over-long rows from the left (keeps the responses); false drops them"
    )
    warm_start: bool = _f(False, "start from the previous reward model instead of the base")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    bf16: bool = _f(False, "bf16 autocast (CPUs with AVX-512 BF16 or GPUs)")
    seed: int = _f(0, "seed of the score head's initialisation and data order")
    threads: int | None = _f(None, "torch CPU threads for this stage (None: leave as is)")
    score_batch_size: int = _f(32, "texts per forward pass when scoring")


@dataclass
class LoraSection:
    enabled: bool = _f(
        False, "train a LoRA adapter (merged into the saved policy) instead of all weights"
    )
    r: int = _f(16, "LoRA rank")
    alpha: int = _f(32, "LoRA alpha (scale = alpha / r)")
    dropout: float = _f(0.05, "LoRA dropout")
    target_modules: str | list[str] = _f("all-linear", "modules that get adapters")


@dataclass
class PolicySection:
    method: str = _f("rloo", '"rloo" (default), "grpo" (both RL against the reward model) or "dpo"')
    lr: float = _f(1e-5, "learning rate of the policy")
    steps: int = _f(20, "optimiser steps (RL: one generation batch each; DPO: batches of pairs)")
    prompts_per_step: int = _f(2, "distinct prompts per RL step")
    num_generations: int = _f(4, "completions sampled per prompt (RL baseline group, >= 2)")
    max_completion_length: int = _f(64, "new tokens per sampled completion")
    max_prompt_length: int = _f(256, "prompt tokens kept (DPO; longer prompts cut from the left)")
    temperature: float = _f(1.0, "sampling temperature during RL")
    beta: float = _f(0.05, "KL penalty coefficient to the reference (the starting policy)")
    normalize_advantages: bool = _f(
        False, "RLOO: scale advantages to unit variance (useful when reward scales are small)"
    )
    dpo_batch_size: int = _f(4, "preference pairs per DPO step")
    dpo_beta: float = _f(0.1, "DPO temperature beta (strength of the implicit KL to the reference)")
    lora: LoraSection = field(default_factory=LoraSection, metadata={"help": "LoRA options"})
    bf16: bool = _f(False, "bf16 autocast (CPUs with AVX-512 BF16 or GPUs); weights stay as loaded")
    system_prompt: str | None = _f(
        None, "system message added to prompts without one (None keeps the chat template's)"
    )
    length_monitor: bool = _f(True, "log completion length as a weight-0 reward (hacking check)")
    max_grad_norm: float = _f(1.0, "gradient clipping")
    warmup_ratio: float = _f(0.0, "share of steps with a linear warm-up")
    seed: int = _f(0, "seed of sampling and data order")
    threads: int | None = _f(None, "torch CPU threads for this stage (None: leave as is)")


@dataclass
class EvalSection:
    max_new_tokens: int = _f(64, "new tokens per evaluation sample")
    samples_per_prompt: int = _f(2, "samples per held-out prompt from each policy")
    temperature: float = _f(1.0, "sampling temperature for evaluation (KL is measured at it)")
    batch_size: int = _f(8, "sequences generated per batch")
    seed: int = _f(1234, "sampling seed (the same for new and reference)")


@dataclass
class GateSection:
    min_reward_gain: float = _f(0.0, "promote only if mean reward(new) - reward(ref) exceeds this")
    max_kl: float | None = _f(
        20.0, "promote only if KL(new || ref) per sequence is below (None: off)"
    )
    min_reward_accuracy: float | None = _f(
        0.55, "promote only if the reward model's validation accuracy reaches this (None: off)"
    )


@dataclass
class TrainingConfig:
    reward: RewardSection = field(default_factory=RewardSection, metadata={"help": "reward model"})
    policy: PolicySection = field(default_factory=PolicySection, metadata={"help": "policy"})
    eval: EvalSection = field(default_factory=EvalSection, metadata={"help": "evaluation"})
    gates: GateSection = field(default_factory=GateSection, metadata={"help": "promotion gates"})
    min_comparisons: int = _f(50, "a run with fewer usable comparisons fails fast")
    include_ties: bool = _f(False, "keep tie / both-bad judgements (they are dropped by default)")
    validation_share: float = _f(0.2, "share of prompts held out for reward validation")
    split_seed: int = _f(0, "seed of the train/validation split by prompt")
    heldout_prompts: int = _f(16, "prompts kept out of RL for evaluation")
    rl_prompts: int | None = _f(None, "cap on prompts used for RL (None: all remaining)")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check a YAML value against a field type; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arm in typing.get_args(tp):
            try:
                return _coerce(value, arm, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} is not a valid {_type_name(tp)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, item, key) for v in value]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)  # YAML reads 1e-5 (no dot) as a string
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp}")


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("NoneType", "null")


def _apply(obj: Any, data: dict[str, Any], prefix: str) -> None:
    hints = _hints(type(obj))
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in hints:
            known = ", ".join(sorted(hints))
            raise ConfigError(f"unknown config key {full!r} (known here: {known})")
        tp = hints[key]
        if _is_section(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{full}: expected a mapping of {tp.__name__} fields")
            _apply(getattr(obj, key), value, f"{full}.")
        else:
            setattr(obj, key, _coerce(value, tp, full))


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn dotted keys (`policy.lr`) into nested dicts."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {key!r} conflicts with another override")
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return nested


def _validate(cfg: TrainingConfig) -> None:
    p = cfg.policy
    if p.method not in ("rloo", "grpo", "dpo"):
        raise ConfigError(f'policy.method must be "rloo", "grpo" or "dpo", not {p.method!r}')
    if p.num_generations < 2:
        raise ConfigError(
            "policy.num_generations must be at least 2 (the RL baseline needs a group)"
        )
    positive = {
        "policy.steps": p.steps,
        "policy.prompts_per_step": p.prompts_per_step,
        "policy.max_completion_length": p.max_completion_length,
        "reward.batch_size": cfg.reward.batch_size,
        "reward.max_length": cfg.reward.max_length,
        "eval.max_new_tokens": cfg.eval.max_new_tokens,
        "eval.samples_per_prompt": cfg.eval.samples_per_prompt,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, got {value}")
    if not 0.0 <= cfg.validation_share < 1.0:
        raise ConfigError(f"validation_share must be in [0, 1), got {cfg.validation_share}")
    if p.lr <= 0 or cfg.reward.lr <= 0:
        raise ConfigError("learning rates must be positive")
    if p.beta < 0:
        raise ConfigError(f"policy.beta must be >= 0, got {p.beta}")


def recipe_path(name_or_path: str) -> Path:
    """A recipe file: a name in trainer/recipes/ (`cpu-small`) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    named = RECIPES_DIR / f"{name_or_path}.yaml"
    if named.is_file():
        return named
    raise ConfigError(
        f"no recipe {name_or_path!r}; available: {', '.join(available_recipes())} or a YAML path"
    )


def available_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """Build a config from defaults, then the recipe, then overrides (nested or dotted keys)."""
    path = recipe_path(name_or_path)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path.name} must be a mapping of config keys")
    cfg = TrainingConfig()
    _apply(cfg, data, "")
    if overrides:
        _apply(cfg, _nest(overrides), "")
    _validate(cfg)
    return cfg


def config_from_dict(data: dict[str, Any]) -> TrainingConfig:
    """Rebuild a config saved with `config_to_dict` (same key checks as recipes)."""
    cfg = TrainingConfig()
    _apply(cfg, data, "")
    _validate(cfg)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict of a config or section (saved next to each checkpoint)."""
    return dataclasses.asdict(cfg)


def config_help(cls: type = TrainingConfig, prefix: str = "") -> dict[str, str]:
    """Dotted key → help text for every field (for forms and docs)."""
    out: dict[str, str] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_section(tp):
            out.update(config_help(tp, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = f.metadata.get("help", "")
    return out
