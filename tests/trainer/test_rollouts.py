"""trainer/rollouts.py: the recipe's GPU options reach the TRL configs of the policy stages."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.recipe import ConfigError, load_recipe
from trainer.rollouts import gpu_settings
from trainer.stage import training_args


def test_vllm_rollouts_and_memory_options_reach_the_rl_config(tmp_path: Path) -> None:
    from trl import GRPOConfig, RLOOConfig

    cfg = load_recipe(
        "gpu-1x",
        {
            "policy.vllm.enabled": True,
            "policy.vllm.mode": "server",
            "policy.vllm.server_url": "http://vllm-rollouts:8000",
            "policy.bf16": False,  # this CPU: the bf16 choice is the recipe's, checked below
        },
    ).policy
    assert cfg.gradient_checkpointing  # gpu-1x turns it on
    output = {"output_dir": str(tmp_path), "report_to": "none"}
    for config_class in (RLOOConfig, GRPOConfig):
        args = config_class(**{**training_args(cfg, output), **gpu_settings(cfg, rollouts=True)})
        assert args.use_vllm and args.vllm_mode == "server"
        assert args.vllm_server_base_url == "http://vllm-rollouts:8000"
        assert args.gradient_checkpointing
        assert args.gradient_checkpointing_kwargs == {"use_reentrant": False}
        assert args.model_init_kwargs["dtype"] == "float32"  # no GPU here: weights stay fp32

    colocated = load_recipe("gpu-1x", {"policy.vllm.enabled": True}).policy
    settings = gpu_settings(colocated, rollouts=True)
    assert settings["vllm_mode"] == "colocate" and settings["bf16"] is True
    assert settings["vllm_gpu_memory_utilization"] == 0.3
    # Stages that do not generate (SFT, DPO, best-of-N's fine-tune) never get vLLM.
    assert "use_vllm" not in gpu_settings(colocated)


def test_cpu_recipes_keep_fp32_without_checkpointing_or_vllm() -> None:
    cfg = load_recipe("tiny", {}).policy
    assert gpu_settings(cfg, rollouts=True) == {
        "bf16": False,
        "gradient_checkpointing": False,
        "model_init_kwargs": {"use_safetensors": True, "dtype": "float32"},
    }


def test_a_server_without_an_address_or_a_bad_address_is_refused() -> None:
    cfg = load_recipe("gpu-1x", {"policy.vllm.enabled": True, "policy.vllm.mode": "server"})
    with pytest.raises(ValueError, match="server_url"):
        gpu_settings(cfg.policy, rollouts=True)
    with pytest.raises(ConfigError, match=r"policy\.vllm\.server_url"):
        load_recipe("gpu-1x", {"policy.vllm.server_url": "file:///etc/passwd"})
