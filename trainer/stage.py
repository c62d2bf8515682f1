"""One set-up for every stage that trains a policy with TRL: SFT, best-of-N, DPO, RLOO, GRPO.

`run_policy_stage` builds the TRL config from the recipe section (the fields all stages share,
then the method's own), starts from the policy the stage starts from (`starting_model`),
writes checkpoints and tracker logs into the run's work folder and resumes from the newest
checkpoint a killed attempt left there (trainer/workspace.py), runs with progress and
cancellation, saves the result the way a policy version is kept and returns its metrics.

The KL reference is the policy the stage starts from: TRL reloads it from the folder the
policy was loaded from (with a new LoRA adapter, disables it; with a parent's adapter trained
further, keeps a frozen copy of it), so each version is anchored to its parent. The result is
written to `out_dir` only after training finished (under `accelerate launch`: by rank 0,
after every rank trained its share of the data; trainer/ranks.py).

With `policy.lora.enabled` the new version is saved as its LoRA adapter alone (plus a merged
copy in `merged/` with `lora.merged_copy`). A parent that is itself an adapter (`base`: the
full weights it applies to) has its adapter trained further, so every version of a lineage
is one adapter on the same base weights, which a vLLM server loads at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from datasets import Dataset
from transformers import AutoTokenizer, PreTrainedTokenizerBase, TrainerCallback

from app.domain.checkpoints import is_adapter_folder, load_causal_lm
from app.domain.recipe import PolicySection
from app.domain.store import assert_safetensors_only
from trainer import ranks
from trainer._hf import StageCallback, per_rank, quiet, set_threads
from trainer.rollouts import gpu_settings, policy_dtype
from trainer.types import Progress, ShouldStop
from trainer.workspace import Workspace, run_stage, stage_output


def run_policy_stage(
    trl: tuple[Any, Any],
    settings: dict[str, Any],
    dataset: Dataset,
    policy: Path,
    out_dir: Path,
    cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    *,
    label: str,
    stage: str = "policy",
    base: Path | None = None,
    workspace: Workspace | None = None,
    padding_side: Literal["left", "right"] | None = None,
    trainer_kwargs: dict[str, Any] | None = None,
    callbacks: Sequence[TrainerCallback] = (),
) -> dict[str, Any]:
    """Train `policy` on `dataset` with TRL's (config class, trainer class) `trl`; save it.

    `settings`: the method's own config fields, over those every stage shares (`cfg`'s
    learning rate, steps, clipping, seed, bf16 ...); `stage`: the work folder's sub-folder
    (checkpoints every `cfg.save_steps` steps); `base`: the full weights `policy` applies
    to, when `policy` is a LoRA adapter; `trainer_kwargs`: other trainer arguments
    (RL's reward functions); `callbacks`: run beside the progress and cancel callback.
    """
    set_threads(cfg.threads)
    assert_safetensors_only(policy)
    config_cls, trainer_cls = trl
    progress(0.0, f"{label}: loading", {})
    tokenizer = AutoTokenizer.from_pretrained(
        str(policy), **({"padding_side": padding_side} if padding_side else {})
    )
    callback = StageCallback(label, progress, should_stop)
    with stage_output(workspace, stage, cfg.save_steps) as output:
        args = config_cls(**{**training_args(cfg, output), **settings})
        model, peft_config = starting_model(policy, base, cfg, output["output_dir"])
        trainer = quiet(
            trainer_cls(
                model=model,
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                callbacks=[callback, *callbacks],
                peft_config=peft_config,
                **(trainer_kwargs or {}),
            )
        )
        seconds, resumed = run_stage(trainer, should_stop, label, progress, workspace, stage)
    # Under `accelerate launch` every rank trained; rank 0 alone writes the result.
    ranks.on_main(lambda: save_policy(trainer, tokenizer, out_dir, cfg))
    metrics = stage_metrics(callback, seconds, trainer.state.global_step, resumed)
    metrics.update(per_rank(callback))
    progress(1.0, f"{label}: done", {})
    return metrics


def training_args(cfg: PolicySection, output: dict[str, Any]) -> dict[str, Any]:
    """The TRL config fields every policy-shaped stage shares (`output`: where it writes)."""
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
        "disable_tqdm": True,
        **gpu_settings(cfg),  # bf16, gradient checkpointing, the dtype the policy loads in
    }


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


def starting_model(
    policy: Path, base: Path | None, cfg: PolicySection, scratch: str
) -> tuple[Any, Any]:
    """The trainer's `model` and `peft_config` for a policy that starts from `policy`."""
    if base is None:  # full weights: loaded by TRL from the folder (a new adapter with LoRA)
        return str(policy), _peft_config(cfg)
    if cfg.lora.enabled:  # the parent's adapter, trained further on the same base
        return _adapter_model(policy, base, trainable=True, dtype=policy_dtype(cfg)), None
    # All weights from an adapter parent: its merged weights, as a folder TRL loads twice
    # (policy and KL reference).
    merged = ranks.own(Path(scratch) / "parent-merged")  # the work folder is shared by ranks
    load_policy(policy, base)[0].save_pretrained(merged, safe_serialization=True)
    AutoTokenizer.from_pretrained(str(policy)).save_pretrained(merged)
    return str(merged), None


def _adapter_model(
    adapter: Path, base: Path | None, *, trainable: bool, dtype: torch.dtype = torch.float32
) -> Any:
    """A peft model: the LoRA adapter in `adapter` on the full weights in `base`."""
    from peft import PeftModel

    if base is None:
        raise ValueError(f"{adapter.name} is a LoRA adapter: its base weights are needed")
    assert_safetensors_only(adapter)
    model = load_causal_lm(base, dtype=dtype)
    return PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)


def save_policy(
    trainer: Any, tokenizer: PreTrainedTokenizerBase, out_dir: Path, cfg: PolicySection
) -> None:
    """The trained policy as a version is kept: full weights, or the LoRA adapter alone."""
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


def stage_metrics(
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


__all__ = [
    "load_policy",
    "run_policy_stage",
    "save_policy",
    "stage_metrics",
    "starting_model",
    "training_args",
]
