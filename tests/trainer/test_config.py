"""Recipes load into the typed config; bad keys and values are refused by name."""

from __future__ import annotations

import pytest

from trainer.config import (
    ConfigError,
    available_recipes,
    config_from_dict,
    config_help,
    config_to_dict,
    load_recipe,
)


def test_bundled_recipes_load() -> None:
    assert {"tiny", "cpu-small", "gpu-1x"} <= set(available_recipes())
    for name in available_recipes():
        cfg = load_recipe(name)
        assert cfg.policy.method in ("rloo", "grpo", "dpo")
    assert load_recipe("gpu-1x").policy.bf16 is True


def test_overrides_nested_and_dotted() -> None:
    cfg = load_recipe("tiny", {"policy.lr": "2e-5", "gates": {"max_kl": None}, "policy.lora.r": 4})
    assert cfg.policy.lr == 2e-5
    assert cfg.gates.max_kl is None
    assert cfg.policy.lora.r == 4
    assert load_recipe("tiny").policy.lora.r == 16  # recipes are not mutated


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'policy\.learning_rate'"):
        load_recipe("tiny", {"policy.learning_rate": 1e-5})
    with pytest.raises(ConfigError, match=r"unknown config key 'rewrd'"):
        load_recipe("tiny", {"rewrd": {"lr": 1e-5}})


def test_bad_values_are_explained(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"policy\.steps: expected an integer"):
        load_recipe("tiny", {"policy.steps": "many"})
    with pytest.raises(ConfigError, match="policy.method"):
        load_recipe("tiny", {"policy.method": "ppo"})
    with pytest.raises(ConfigError, match="num_generations"):
        load_recipe("tiny", {"policy.num_generations": 1})
    with pytest.raises(ConfigError, match="no recipe 'nope'"):
        load_recipe("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  epocs: 3\n")
    with pytest.raises(ConfigError, match=r"'reward\.epocs'"):
        load_recipe(str(bad))


def test_round_trip_and_help() -> None:
    cfg = load_recipe("cpu-small", {"policy.system_prompt": "Be brief."})
    data = config_to_dict(cfg)
    assert data["policy"]["system_prompt"] == "Be brief."
    assert config_from_dict(data) == cfg
    helps = config_help()
    assert all(helps.values()), [k for k, v in helps.items() if not v]
    assert "policy.lora.r" in helps
