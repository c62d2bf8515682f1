"""Supervised fine-tuning on the evaluators' demonstrations: the first of RLHF's three stages.

Each demonstration is a conversation (app/domain/demonstrations.py: the prompt's turns, then
the written answer); TRL's `SFTTrainer` sees it as prompt + completion, so the loss is on the
answer's tokens only. The stage starts from the policy the run starts from and is saved the
way a policy version is (a LoRA adapter on the same base with `policy.lora.enabled`), so the
policy stage can go on from it and anchor its KL penalty to it, as InstructGPT did.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset

from app.domain.demonstrations import DemonstrationRow
from app.domain.recipe import PolicySection, SftSection
from trainer.stage import run_policy_stage
from trainer.types import Progress, ShouldStop
from trainer.workspace import Workspace


def sft_dataset(rows: list[DemonstrationRow], system_prompt: str | None) -> Dataset:
    """TRL's conversational prompt-completion format, cut from each row's `messages`."""
    conversations = [row.messages(system_prompt) for row in rows]
    return Dataset.from_dict(
        {
            "prompt": [turns[:-1] for turns in conversations],
            "completion": [turns[-1:] for turns in conversations],
        }
    )


def answer_logprob(model: Any, tokenizer: Any, row: DemonstrationRow, system: str | None) -> float:
    """Mean log-probability per token of the demonstration's answer after its prompt (the
    chat template's rendering, as SFT and sampling see it): the figure SFT should raise."""
    turns = row.messages(system)
    prompt = tokenizer.apply_chat_template(turns[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(turns, tokenize=False)
    start = len(tokenizer(prompt, add_special_tokens=False).input_ids)
    ids = tokenizer(full, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)  # (seq-1, vocab)
    targets = ids[0, 1:]
    picked = logp[torch.arange(len(targets)), targets][start - 1 :]  # the answer's tokens
    return float(picked.mean())


def sft_steps(rows: int, cfg: SftSection) -> int:
    """Optimiser steps the stage takes: the epochs over the rows, capped by `max_steps`."""
    steps = max(1, math.ceil(cfg.epochs * math.ceil(rows / cfg.batch_size)))
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def sft_policy(
    rows: list[DemonstrationRow],
    policy: Path,
    out_dir: Path,
    cfg: SftSection,
    policy_cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    base: Path | None = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """Fine-tune `policy` on the demonstrations; saves it to `out_dir` like a policy version
    (checkpoints every `policy.save_steps` and tracker logs in `workspace`, the run's folder).

    `policy_cfg` gives what SFT shares with the policy stage: LoRA, bf16, threads and the
    system prompt (so the model is tuned on the prompts exactly as RL and sampling give them).
    """
    if not rows:
        raise ValueError("no demonstrations for SFT")
    from trl import SFTConfig, SFTTrainer

    steps = sft_steps(len(rows), cfg)
    settings = {
        "learning_rate": cfg.lr,
        "max_steps": steps,
        "warmup_steps": 0,
        "lr_scheduler_type": "constant",
        "seed": cfg.seed,
        "per_device_train_batch_size": cfg.batch_size,
        "max_length": cfg.max_length,
        "completion_only_loss": True,
    }
    metrics = run_policy_stage(
        (SFTConfig, SFTTrainer),
        settings,
        sft_dataset(rows, policy_cfg.system_prompt),
        policy,
        out_dir,
        policy_cfg,
        progress,
        should_stop,
        label="sft",
        stage="sft",
        base=base,
        workspace=workspace,
    )
    keep = ("steps", "train_seconds", "seconds_per_step", "loss_curve", "resumed_from_step")
    out = {k: metrics[k] for k in keep}
    out.update(demonstrations=len(rows), epochs=cfg.epochs)
    return out
