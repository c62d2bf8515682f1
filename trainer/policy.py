"""Policy optimisation: RL against the reward model (RLOO, GRPO) or DPO on the human pairs.

The KL reference is the policy the stage starts from: TRL reloads it from the folder the
policy was loaded from (with a new LoRA adapter, disables it; with a parent's adapter trained
further, keeps a frozen copy of it), so each version is anchored to its parent. Checkpoints
are written to `out_dir` only after training finished.

With `policy.lora.enabled` the new version is saved as its LoRA adapter alone (plus a merged
copy in `merged/` with `lora.merged_copy`). A parent that is itself an adapter (`base`: the
full weights it applies to) has its adapter trained further, so every version of a lineage
is one adapter on the same base weights, which a vLLM server loads at run time.

Given the run's `Workspace`, the trainer checkpoints every `policy.save_steps` steps into it
and a retried run resumes from the newest checkpoint there (trainer/workspace.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from app.domain.checkpoints import is_adapter_folder, load_causal_lm
from app.domain.recipe import PolicySection
from app.domain.scorer import RewardScorer
from app.domain.store import assert_safetensors_only
from trainer._hf import StageCallback, quiet, set_threads
from trainer.types import (
    PreferenceRow,
    Progress,
    Prompt,
    ShouldStop,
    as_messages,
)
from trainer.workspace import Workspace, run_stage, stage_output


def _completion_text(completion: Any) -> str:
    # Conversational datasets give completions as [{"role": "assistant", "content": ...}].
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion)
    return str(completion)


def _prompt_for_reward(prompt: Any, system_prompt: str | None) -> Prompt:
    # The reward model was trained on the prompts as stored, without an added system turn.
    if isinstance(prompt, list) and system_prompt is not None:
        return [
            m
            for m in prompt
            if not (m.get("role") == "system" and m.get("content") == system_prompt)
        ]
    return prompt  # type: ignore[no-any-return]


def make_reward_functions(reward: Path, cfg: PolicySection) -> tuple[list[Any], list[float]]:
    """The reward model as a TRL reward callable, plus a weight-0 length monitor."""
    scorer = RewardScorer(reward)

    def reward_model(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        texts = [_completion_text(c) for c in completions]
        return scorer.score([_prompt_for_reward(p, cfg.system_prompt) for p in prompts], texts)

    def length_chars(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        # Logged only (weight 0): a sudden swing flags the policy exploiting the reward model.
        return [float(len(_completion_text(c))) for c in completions]

    funcs: list[Any] = [reward_model]
    weights = [1.0]
    if cfg.length_monitor:
        funcs.append(length_chars)
        weights.append(0.0)
    return funcs, weights


def _peft_config(cfg: PolicySection) -> Any:
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        task_type="CAUSAL_LM",
    )


def _start(policy: Path, base: Path | None, cfg: PolicySection, scratch: str) -> tuple[Any, Any]:
    """The trainer's `model` and `peft_config` for a policy that starts from `policy`."""
    if base is None:  # full weights: loaded by TRL from the folder (a new adapter with LoRA)
        return str(policy), _peft_config(cfg)
    if cfg.lora.enabled:  # the parent's adapter, trained further on the same base
        return _adapter_model(policy, base, trainable=True), None
    # All weights from an adapter parent: its merged weights, as a folder TRL loads twice
    # (policy and KL reference).
    merged = Path(scratch) / "parent-merged"
    load_policy(policy, base)[0].save_pretrained(merged, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(policy)).save_pretrained(merged)
    return str(merged), None


def _adapter_model(adapter: Path, base: Path | None, *, trainable: bool) -> Any:
    """A peft model: the LoRA adapter in `adapter` on the full weights in `base` (fp32)."""
    from peft import PeftModel

    if base is None:
        raise ValueError(f"{adapter.name} is a LoRA adapter: its base weights are needed")
    assert_safetensors_only(adapter)
    model = load_causal_lm(base, dtype=torch.float32)
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)


def _common_args(cfg: PolicySection, output: dict[str, Any]) -> dict[str, Any]:
    return {
        **output,
        "learning_rate": cfg.lr,
        "max_steps": cfg.steps,
        "max_grad_norm": cfg.max_grad_norm,
        "warmup_steps": cfg.warmup_ratio,  # a float below 1 is a share of the steps
        "lr_scheduler_type": "constant_with_warmup" if cfg.warmup_ratio else "constant",
        "seed": cfg.seed,
        "logging_steps": 1,
        "use_cpu": not torch.cuda.is_available(),
        "bf16": cfg.bf16,
        "gradient_checkpointing": False,
        "disable_tqdm": True,
        # Only safetensors are ever loaded, for the policy and for the KL reference alike.
        "model_init_kwargs": {"use_safetensors": True, "dtype": "float32"},
    }


def _save(
    trainer: Any, tokenizer: PreTrainedTokenizerBase, out_dir: Path, cfg: PolicySection
) -> None:
    model = trainer.model
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    if not hasattr(model, "merge_and_unload"):
        model.save_pretrained(out_dir, safe_serialization=True)
        return
    # LoRA: the trained adapter alone ("default"; TRL's frozen "ref" copy is not kept).
    model.save_pretrained(out_dir, selected_adapters=["default"], safe_serialization=True)
    if cfg.lora.merged_copy:
        merged = model.merge_and_unload(adapter_names=["default"])
        merged.save_pretrained(out_dir / "merged", safe_serialization=True)
        tokenizer.save_pretrained(out_dir / "merged")


def _metrics(
    callback: StageCallback, seconds: float, steps: int, resumed: int | None
) -> dict[str, Any]:
    curves = callback.curves
    reward_curve = curves.get("rewards/reward_model/mean") or curves.get("reward", [])
    return {
        "steps": steps,
        "resumed_from_step": resumed,
        "train_seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / max(steps, 1), 2),
        "loss_curve": curves.get("loss", []),
        "reward_curve": reward_curve,
        "kl_curve": curves.get("kl", []),
        "length_curve": curves.get("rewards/length_chars/mean", []),
        "curves": curves,
    }


def optimise_policy(
    prompts: list[Prompt],
    policy: Path,
    reward: Path,
    out_dir: Path,
    cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    base: Path | None = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """RL of the policy against the reward model with a KL penalty; saves the new policy.

    `base`: the full weights `policy` applies to, when `policy` is a LoRA adapter;
    `workspace`: the run's work folder (checkpoints to resume from, tracker logs).
    """
    if cfg.method == "dpo":
        raise ValueError("method dpo trains on the human pairs: call dpo_policy")
    if not prompts:
        raise ValueError("no prompts for RL")
    set_threads(cfg.threads)
    assert_safetensors_only(policy)
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    progress(0.0, f"policy ({cfg.method}): loading", {})
    tokenizer = AutoTokenizer.from_pretrained(str(policy), padding_side="left")
    funcs, weights = make_reward_functions(reward, cfg)
    dataset = Dataset.from_dict({"prompt": [as_messages(p, cfg.system_prompt) for p in prompts]})
    callback = StageCallback(f"policy ({cfg.method})", progress, should_stop)
    classes: tuple[Any, Any] = (
        (RLOOConfig, RLOOTrainer) if cfg.method == "rloo" else (GRPOConfig, GRPOTrainer)
    )
    config_cls, trainer_cls = classes
    with stage_output(workspace, "policy", cfg.save_steps) as output:
        extra: dict[str, Any] = {}
        if cfg.method == "rloo":
            extra["normalize_advantages"] = cfg.normalize_advantages
        args = config_cls(
            **_common_args(cfg, output),
            **extra,
            per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
            num_generations=cfg.num_generations,
            max_completion_length=cfg.max_completion_length,
            temperature=cfg.temperature,
            beta=cfg.beta,
            reward_weights=weights,
        )
        model, peft_config = _start(policy, base, cfg, output["output_dir"])
        trainer = quiet(
            trainer_cls(
                model=model,
                reward_funcs=funcs,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback],
                peft_config=peft_config,
            )
        )
        label = f"policy ({cfg.method})"
        seconds, resumed = run_stage(trainer, should_stop, label, progress, workspace)
    _save(trainer, tokenizer, out_dir, cfg)
    metrics = _metrics(callback, seconds, cfg.steps, resumed)
    metrics.update(method=cfg.method, prompts=len(prompts))
    progress(1.0, f"policy ({cfg.method}): done", {})
    return metrics


def dpo_policy(
    rows: list[PreferenceRow],
    policy: Path,
    out_dir: Path,
    cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    base: Path | None = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """DPO directly on the human preference pairs (reference = the starting policy)."""
    if not rows:
        raise ValueError("no preference pairs for DPO")
    set_threads(cfg.threads)
    assert_safetensors_only(policy)
    from trl import DPOConfig, DPOTrainer

    progress(0.0, "policy (dpo): loading", {})
    tokenizer = AutoTokenizer.from_pretrained(str(policy))
    dataset = Dataset.from_dict(
        {
            "prompt": [as_messages(r.prompt, cfg.system_prompt) for r in rows],
            "chosen": [[{"role": "assistant", "content": r.chosen}] for r in rows],
            "rejected": [[{"role": "assistant", "content": r.rejected}] for r in rows],
        }
    )
    callback = StageCallback("policy (dpo)", progress, should_stop)
    with stage_output(workspace, "policy", cfg.save_steps) as output:
        args = DPOConfig(
            **_common_args(cfg, output),
            per_device_train_batch_size=cfg.dpo_batch_size,
            beta=cfg.dpo_beta,
            max_length=cfg.max_prompt_length + cfg.max_completion_length,
        )
        model, peft_config = _start(policy, base, cfg, output["output_dir"])
        trainer = quiet(
            DPOTrainer(
                model=model,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback],
                peft_config=peft_config,
            )
        )
        seconds, resumed = run_stage(trainer, should_stop, "policy (dpo)", progress, workspace)
    _save(trainer, tokenizer, out_dir, cfg)
    metrics = _metrics(callback, seconds, cfg.steps, resumed)
    metrics.update(method="dpo", pairs=len(rows))
    progress(1.0, "policy (dpo): done", {})
    return metrics


def load_policy(path: Path, base: Path | None = None) -> tuple[Any, PreTrainedTokenizerBase]:
    """A saved policy and its tokenizer (safetensors only; left padding for batched sampling);
    a LoRA adapter is loaded onto `base` and merged into it."""
    if is_adapter_folder(path):
        model = _adapter_model(path, base, trainable=False).merge_and_unload()
    else:
        model = load_causal_lm(path)
    tokenizer = AutoTokenizer.from_pretrained(str(path), padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer
