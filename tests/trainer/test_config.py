"""Recipes load into the typed config; bad keys, types, bounds and model sources are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.recipe import (
    ConfigError,
    ModelSources,
    available_recipes,
    config_from_dict,
    config_help,
    config_to_dict,
    load_recipe,
)


def test_every_shipped_recipe_loads() -> None:
    assert {"tiny", "cpu-small", "gpu-1x"} <= set(available_recipes())
    for name in available_recipes():
        cfg = load_recipe(name)
        assert cfg.policy.method in ("rloo", "grpo", "dpo", "best_of_n", "rm_dpo")
    gpu = load_recipe("gpu-1x")
    assert gpu.policy.bf16 is True and gpu.reward.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert gpu.policy.lora.r == 32 and gpu.policy.lora.alpha == 64
    assert load_recipe("tiny").gates.min_reward_accuracy is None
    assert load_recipe("cpu-small").policy.system_prompt == "You are a helpful assistant."


def test_overrides_nested_and_dotted() -> None:
    cfg = load_recipe("tiny", {"policy.lr": "2e-5", "gates": {"max_kl": None}, "policy.lora.r": 4})
    assert cfg.policy.lr == 2e-5
    assert cfg.gates.max_kl is None
    assert cfg.policy.lora.r == 4
    assert cfg.policy.lora.alpha == 32  # a nested override keeps the section's other fields
    assert load_recipe("tiny").policy.lora.r == 16  # recipes are not mutated


def test_string_values_are_read_as_yaml_scalars() -> None:
    cfg = load_recipe(
        "tiny",
        {"policy.steps": "3", "policy.bf16": "true", "gates.max_kl": "null", "reward.lr": "1e-4"},
    )
    assert cfg.policy.steps == 3 and cfg.policy.bf16 is True
    assert cfg.gates.max_kl is None and cfg.reward.lr == 1e-4
    assert load_recipe("tiny", {"policy.system_prompt": "true"}).policy.system_prompt == "true"


def test_unknown_key_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config key 'policy\.lrr' \(did you mean 'policy\.lr'\?\)"
    ):
        load_recipe("tiny", {"policy.lrr": 1e-5})
    with pytest.raises(
        ConfigError, match=r"unknown config key 'rewrd' \(did you mean 'reward'\?\)"
    ):
        load_recipe("tiny", {"rewrd": {"lr": 1e-5}})
    with pytest.raises(
        ConfigError, match=r"'policy\.learning_rate' \(did you mean 'policy\.lr'\?\)"
    ):
        load_recipe("tiny", {"policy.learning_rate": 1e-5})
    with pytest.raises(ConfigError, match=r"'steps' \(did you mean 'policy\.steps'\?\)"):
        load_recipe("tiny", {"steps": 3})
    with pytest.raises(
        ConfigError, match=r"'reward\.zzz' \(known here: annotator_weights, base_model, batch_size"
    ):
        load_recipe("tiny", {"reward.zzz": 1})


def test_wrong_types_name_the_key_and_what_it_accepts(tmp_path: Path) -> None:
    cases = {
        "policy.steps": ("many", "policy.steps: expected an integer, got 'many'"),
        "policy.lr": (True, "policy.lr: expected a number, got True"),
        "policy.bf16": (1, "policy.bf16: expected true or false, got 1"),
        "policy.threads": ("x", "policy.threads: expected an integer or null, got 'x'"),
        "policy.lora.target_modules": (3, "expected a string or a list of strings, got 3"),
        "policy.method": (
            "ppo",
            "policy.method: must be one of 'rloo', 'grpo', 'dpo', 'best_of_n' or 'rm_dpo'",
        ),
        "reward": (3, "reward: expected a mapping of config keys, got 3"),
    }
    for key, (value, message) in cases.items():
        with pytest.raises(ConfigError) as info:
            load_recipe("tiny", {key: value})
        assert message in str(info.value), (key, str(info.value))
    with pytest.raises(ConfigError, match="no recipe 'nope'"):
        load_recipe("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  epocs: 3\n")
    with pytest.raises(ConfigError, match=r"'reward\.epocs' \(did you mean 'reward\.epochs'\?\)"):
        load_recipe(str(bad))


def test_numbers_are_bounded_one_line_per_problem() -> None:
    with pytest.raises(ConfigError) as info:
        load_recipe(
            "tiny",
            {
                "policy.steps": 10**12,
                "policy.num_generations": 1,
                "validation_share": 1.0,
                "reward.lr": float("nan"),
                "policy.lrr": 1,
            },
        )
    lines = info.value.problems
    assert str(info.value).splitlines() == lines and len(lines) == 5, lines
    assert "policy.steps: must be at most 100000, got 1000000000000" in lines
    assert "policy.num_generations: must be at least 2, got 1" in lines
    assert "validation_share: must be less than 1.0, got 1.0" in lines
    assert "reward.lr: expected a finite number, got nan" in lines
    for key in ("policy.lr", "eval.max_new_tokens", "reward.batch_size", "policy.beta"):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_recipe("tiny", {key: -1})


def test_override_models_must_be_bundled_stored_or_allow_listed(tmp_path: Path) -> None:
    store = tmp_path / "models"
    (store / "bases" / "scorer").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (store / "bases" / "link").symlink_to(tmp_path / "outside")
    sources = ModelSources.of(store, " org/allowed-model , /opt/models/mine/")
    allowed = ["minilm", str(store / "bases" / "scorer"), "org/allowed-model", "/opt/models/mine"]
    for value in allowed:
        cfg = load_recipe("tiny", {"reward.base_model": value}, sources=sources)
        assert cfg.reward.base_model == value
    refused = {
        "/etc/passwd": "is not allowed",
        "http://169.254.169.254/latest/meta-data/": "URLs are refused",
        "//169.254.169.254/x": "URLs are refused",
        "file:/etc/passwd": "URLs are refused",
        str(store / "bases" / ".." / ".." / "outside"): "is not allowed",
        str(store / "bases" / "link"): "is not allowed",  # a link out of the store
        str(store): "is not allowed",
        "Qwen/Qwen2.5-0.5B-Instruct": "is not allowed",  # a hub id not on the allow-list
    }
    for value, why in refused.items():
        with pytest.raises(ConfigError) as info:
            load_recipe("tiny", {"reward": {"base_model": value}}, sources=sources)
        assert str(info.value).startswith("reward.base_model: ") and why in str(info.value)
        assert "TRAINING_MODEL_ALLOWLIST" in str(info.value)
    # The recipe files are trusted: gpu-1x names a hub id, and loading it is not an override.
    assert load_recipe("gpu-1x", sources=sources).reward.base_model.startswith("Qwen/")


def test_overrides_round_trip_through_config_to_dict() -> None:
    overrides = {
        "policy.system_prompt": "Be brief.",
        "policy.lora.target_modules": ["q_proj", "v_proj"],
        "gates.max_kl": None,
        "policy.steps": 7,
    }
    cfg = load_recipe("cpu-small", overrides)
    data = config_to_dict(cfg)
    assert data["policy"]["system_prompt"] == "Be brief."
    assert data["policy"]["lora"]["target_modules"] == ["q_proj", "v_proj"]
    assert data["gates"]["max_kl"] is None and data["policy"]["steps"] == 7
    assert config_from_dict(data) == cfg
    assert config_to_dict(cfg.policy) == data["policy"]
    with pytest.raises(ConfigError, match=r"unknown config key 'policy\.stepz'"):
        config_from_dict({**data, "policy": {**data["policy"], "stepz": 1}})


def test_every_field_has_help() -> None:
    helps = config_help()
    assert all(helps.values()), [k for k, v in helps.items() if not v]
    assert "policy.lora.r" in helps and "policy.lora" not in helps
    assert helps["policy.steps"].startswith("optimiser steps")


def test_assignment_is_checked() -> None:
    cfg = load_recipe("tiny")
    cfg.policy.steps = 3
    with pytest.raises(ValueError):
        cfg.policy.steps = 10**12


def test_every_override_a_person_can_set_is_bounded() -> None:
    """A new numeric field without both bounds, or a text field without a length cap, fails here."""
    from typing import get_args

    from annotated_types import Ge, Gt, Le, Lt, MaxLen

    from app.domain.recipe import TrainingConfig
    from app.domain.recipe_checks import fields

    def kinds(tp: object) -> set[type]:
        return {a for a in (get_args(tp) or (tp,)) if isinstance(a, type)}

    unbounded = []
    for key, info in fields(TrainingConfig):
        meta = info.metadata
        arms = kinds(info.annotation)
        if arms & {int, float} and bool not in arms:
            low = any(isinstance(m, Ge | Gt) for m in meta)
            high = any(isinstance(m, Le | Lt) for m in meta)
            if not (low and high):
                unbounded.append(key)
        elif str in arms and not any(isinstance(m, MaxLen) for m in meta):
            unbounded.append(key)
    assert unbounded == []
    with pytest.raises(ConfigError, match=r"policy\.lora\.target_modules"):
        load_recipe("tiny", {"policy.lora.target_modules": ["q_proj", "x" * 201]})
