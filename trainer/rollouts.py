"""How a policy stage fits and generates on a GPU, from the recipe's policy section: bf16,
gradient checkpointing and TRL's vLLM rollouts, in one function every policy stage uses.

On a CPU (tests, the demo) bf16 is autocast only and the weights stay fp32, as before; on a
GPU with `bf16` the policy is loaded in bf16, which halves its weights' memory. vLLM
generation is for the RL methods (rloo, grpo): `colocate` runs vLLM inside each training
process (TRL puts it to sleep between generations when asked), `server` asks a separate
`trl vllm-serve` process and pushes the new weights to it after each step.
"""

from __future__ import annotations

from typing import Any

import torch

from app.domain.recipe import PolicySection


def policy_dtype(cfg: PolicySection) -> torch.dtype:
    """The dtype a policy stage loads the policy in: bf16 on a GPU with `bf16`, else fp32."""
    return torch.bfloat16 if cfg.bf16 and torch.cuda.is_available() else torch.float32


def gpu_settings(cfg: PolicySection, *, rollouts: bool = False) -> dict[str, Any]:
    """TRL config fields for memory (bf16, gradient checkpointing, the dtype the policy loads
    in) and, for an RL stage (`rollouts`), vLLM generation when the recipe enables it."""
    dtype = str(policy_dtype(cfg)).removeprefix("torch.")
    out: dict[str, Any] = {
        "bf16": cfg.bf16,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        # Only safetensors are ever loaded, for the policy and for the KL reference alike.
        "model_init_kwargs": {"use_safetensors": True, "dtype": dtype},
    }
    if cfg.gradient_checkpointing:
        # Non-reentrant: works with LoRA (frozen inputs) and under DDP.
        out["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if rollouts and cfg.vllm.enabled:
        vllm = cfg.vllm
        if vllm.mode == "server" and not vllm.server_url:
            raise ValueError("policy.vllm.mode server needs policy.vllm.server_url")
        out.update(use_vllm=True, vllm_mode=vllm.mode)
        if vllm.mode == "server":
            out["vllm_server_base_url"] = vllm.server_url
        else:
            out["vllm_gpu_memory_utilization"] = vllm.gpu_memory_utilization
    return out


__all__ = ["gpu_settings", "policy_dtype"]
