"""Policy optimisation: RL against the reward model (RLOO, GRPO) or DPO on the human pairs.

Both run through the one stage set-up (trainer/stage.py: TRL config from the recipe, the
starting policy and its KL reference, checkpoints and resume in the run's `Workspace`,
saving the version). RL may be given a KL budget: TRL's RLOO and GRPO have a fixed KL
coefficient (`beta`) and no adaptive or target KL, so `KLBudget` ends the stage early once
the KL measured during training passes what the budget leaves for this version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import TrainerCallback

from app.domain.recipe import PolicySection
from app.domain.scorer import RewardScorer
from trainer.rollouts import gpu_settings
from trainer.stage import load_policy, run_policy_stage
from trainer.types import (
    PreferenceRow,
    Progress,
    Prompt,
    ShouldStop,
    as_messages,
)
from trainer.workspace import Workspace


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


class KLBudget(TrainerCallback):
    """Ends RL once the KL to the starting policy passes `budget` (per sequence).

    TRL logs each step's KL as a mean per completion token (only with `beta > 0`: without a
    KL term there is no reference to measure against); times the step's mean completion
    length it estimates the per-sequence KL the evaluation and the gates measure.
    """

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.spent: float | None = None
        self.stopped_at: int | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "kl" not in logs or "completions/mean_length" not in logs:
            return
        self.spent = float(logs["kl"]) * float(logs["completions/mean_length"])
        if self.spent > self.budget and self.stopped_at is None:
            self.stopped_at = state.global_step
            control.should_training_stop = True

    def report(self) -> dict[str, Any]:
        return {"budget": self.budget, "spent": self.spent, "stopped_at_step": self.stopped_at}


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
    kl_budget: float | None = None,
) -> dict[str, Any]:
    """RL of the policy against the reward model with a KL penalty; saves the new policy.

    `base`: the full weights `policy` applies to, when `policy` is a LoRA adapter;
    `workspace`: the run's work folder (checkpoints to resume from, tracker logs);
    `kl_budget`: the KL (per sequence, to the starting policy) at which RL stops early.
    """
    if cfg.method == "dpo":
        raise ValueError("method dpo trains on the human pairs: call dpo_policy")
    if not prompts:
        raise ValueError("no prompts for RL")
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    funcs, weights = make_reward_functions(reward, cfg)
    dataset = Dataset.from_dict({"prompt": [as_messages(p, cfg.system_prompt) for p in prompts]})
    trl: tuple[Any, Any] = (
        (RLOOConfig, RLOOTrainer) if cfg.method == "rloo" else (GRPOConfig, GRPOTrainer)
    )
    settings: dict[str, Any] = {
        "per_device_train_batch_size": cfg.prompts_per_step * cfg.num_generations,
        "num_generations": cfg.num_generations,
        "max_completion_length": cfg.max_completion_length,
        "temperature": cfg.temperature,
        "beta": cfg.beta,
        "reward_weights": weights,
        **gpu_settings(cfg, rollouts=True),  # vLLM generation when the recipe asks for it
    }
    if cfg.method == "rloo":
        settings["normalize_advantages"] = cfg.normalize_advantages
    budget = KLBudget(kl_budget) if kl_budget is not None else None
    metrics = run_policy_stage(
        trl,
        settings,
        dataset,
        policy,
        out_dir,
        cfg,
        progress,
        should_stop,
        label=f"policy ({cfg.method})",
        base=base,
        workspace=workspace,
        padding_side="left",
        trainer_kwargs={"reward_funcs": funcs},
        callbacks=[budget] if budget else [],
    )
    metrics.update(method=cfg.method, prompts=len(prompts))
    if budget is not None:
        metrics["kl_budget"] = budget.report()
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
    from trl import DPOConfig, DPOTrainer

    dataset = Dataset.from_dict(
        {
            "prompt": [as_messages(r.prompt, cfg.system_prompt) for r in rows],
            "chosen": [[{"role": "assistant", "content": r.chosen}] for r in rows],
            "rejected": [[{"role": "assistant", "content": r.rejected}] for r in rows],
        }
    )
    settings = {
        "per_device_train_batch_size": cfg.dpo_batch_size,
        "beta": cfg.dpo_beta,
        "max_length": cfg.max_prompt_length + cfg.max_completion_length,
    }
    metrics = run_policy_stage(
        (DPOConfig, DPOTrainer),
        settings,
        dataset,
        policy,
        out_dir,
        cfg,
        progress,
        should_stop,
        label="policy (dpo)",
        base=base,
        workspace=workspace,
    )
    metrics.update(method="dpo", pairs=len(rows))
    return metrics


__all__ = ["KLBudget", "dpo_policy", "load_policy", "make_reward_functions", "optimise_policy"]
