"""Evaluation of a candidate policy against its reference on held-out prompts, and the gates.

Beside the reward the candidate is trained to raise, the evaluation reports what a method
that games the reward model would break: mean length, the share of complete answers (not
empty, not cut off) and the reference model's per-token negative log-likelihood of each
policy's answers (a general-quality check: fluent text stays likely under the model it came
from). The gates read them: a KL budget along the lineage, a floor on complete answers and on
length relative to the reference.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import torch

from app.domain.answers import adequate_share
from app.domain.decoding.decode import SamplingParams, decode, stop_token_ids
from app.domain.recipe import EvalSection, GateSection, TrainingConfig
from app.domain.scorer import RewardScorer
from trainer.stage import load_policy
from trainer.types import Prompt, as_messages


def row_seed(seed: int, row: int) -> int:
    """Row `row`'s own seed under the run's `seed`: neighbouring seeds give unrelated streams
    (`seed + row` would make row r of seed s+1 repeat row r+1 of seed s)."""
    return random.Random(f"{seed}/{row}").getrandbits(31)  # noqa: S311 - sampling, not secrets


def sample(
    model: Any,
    tokenizer: Any,
    prompts: list[Prompt],
    cfg: EvalSection,
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """cfg.samples_per_prompt completions per prompt: text, token ids (ending with the stop
    token when the answer ended by itself), the prompt's ids, and whether it stopped.

    Decoded by the sampler's own loop (`app.domain.decoding.decode`): a finished row's slot takes
    the next prompt, so short answers do not wait for long ones, and row i draws from
    `row_seed(cfg.seed, i)`, so two models given the same prompts draw from the same streams.
    """
    chats = [as_messages(p, system_prompt) for p in prompts for _ in range(cfg.samples_per_prompt)]
    owners = [p for p in prompts for _ in range(cfg.samples_per_prompt)]
    ids = [
        list(
            tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_dict=True)[
                "input_ids"
            ]
        )
        for chat in chats
    ]
    # Prompts of similar length side by side: less left padding in each batch.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    decoded = decode(
        model,
        [ids[i] for i in order],
        [row_seed(cfg.seed, i) for i in order],
        SamplingParams(cfg.max_new_tokens, cfg.temperature, top_p=1.0),
        stop_ids=stop_token_ids(model, tokenizer),
        pad_id=tokenizer.pad_token_id,
        batch_size=cfg.batch_size,
    )
    by_row = dict(zip(order, decoded, strict=True))
    out: list[dict[str, Any]] = []
    for i, (owner, prompt_ids) in enumerate(zip(owners, ids, strict=True)):
        row = by_row[i]
        stopped = row.stop_token is not None
        out.append(
            {
                "prompt": owner,
                "prompt_ids": prompt_ids,
                "completion_ids": row.tokens + ([row.stop_token] if stopped else []),
                "text": tokenizer.decode(row.tokens, skip_special_tokens=True),
                "stopped": stopped,
            }
        )
    return out


@torch.no_grad()
def sequence_logprob(
    model: Any, prompt_ids: list[int], completion_ids: list[int], temperature: float
) -> float:
    """log p(completion | prompt) under the model at the sampling temperature."""
    if not completion_ids:
        return 0.0
    ids = torch.tensor([prompt_ids + completion_ids])
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float() / temperature
    logps = torch.log_softmax(logits, dim=-1)
    target = torch.tensor(completion_ids)
    return float(logps.gather(1, target[:, None]).sum())


def evaluate_policy(
    new: Path,
    reference: Path,
    reward: Path,
    prompts: list[Prompt],
    cfg: EvalSection | TrainingConfig,
    system_prompt: str | None = None,
    *,
    new_base: Path | None = None,
    reference_base: Path | None = None,
) -> dict[str, Any]:
    """Mean reward of new vs reference samples, reward gain, KL(new||ref) and mean lengths.

    `new_base` / `reference_base`: the full weights a LoRA-adapter policy applies to.
    """
    ecfg = cfg.eval if isinstance(cfg, TrainingConfig) else cfg
    if system_prompt is None and isinstance(cfg, TrainingConfig):
        system_prompt = cfg.policy.system_prompt
    if not prompts:
        raise ValueError("no held-out prompts to evaluate on")
    scorer = RewardScorer(reward)
    new_model, tokenizer = load_policy(new, new_base)
    ref_model, ref_tokenizer = load_policy(reference, reference_base)
    new_model.eval()
    ref_model.eval()

    new_samples = sample(new_model, tokenizer, prompts, ecfg, system_prompt)
    ref_samples = sample(ref_model, ref_tokenizer, prompts, ecfg, system_prompt)
    new_rewards = scorer.score([s["prompt"] for s in new_samples], [s["text"] for s in new_samples])
    ref_rewards = scorer.score([s["prompt"] for s in ref_samples], [s["text"] for s in ref_samples])

    # Monte-Carlo estimate of the sequence-level KL on the new policy's own samples.
    t = ecfg.temperature
    ref_on_new = [
        sequence_logprob(ref_model, s["prompt_ids"], s["completion_ids"], t) for s in new_samples
    ]
    kls = [
        sequence_logprob(new_model, s["prompt_ids"], s["completion_ids"], t) - ref_logp
        for s, ref_logp in zip(new_samples, ref_on_new, strict=True)
    ]
    ref_on_ref = [
        sequence_logprob(ref_model, s["prompt_ids"], s["completion_ids"], t) for s in ref_samples
    ]
    wins = [n > r for n, r in zip(new_rewards, ref_rewards, strict=True)]
    mean_new, mean_ref = statistics.fmean(new_rewards), statistics.fmean(ref_rewards)
    return {
        "prompts": len(prompts),
        "samples": len(new_samples),
        "reward_new": mean_new,
        "reward_ref": mean_ref,
        "reward_gain": mean_new - mean_ref,
        "reward_gain_se": _paired_se(new_rewards, ref_rewards),
        "win_rate_vs_ref": sum(wins) / len(wins),
        "kl": statistics.fmean(kls),
        "length_new": statistics.fmean(len(s["completion_ids"]) for s in new_samples),
        "length_ref": statistics.fmean(len(s["completion_ids"]) for s in ref_samples),
        "adequate_new": adequate_share(s["text"] for s in new_samples),
        "adequate_ref": adequate_share(s["text"] for s in ref_samples),
        "ref_nll_new": _per_token_nll(ref_on_new, new_samples),
        "ref_nll_ref": _per_token_nll(ref_on_ref, ref_samples),
        "examples": [
            {
                "prompt": [
                    {"role": m["role"], "content": m["content"][:200]}
                    for m in as_messages(s["prompt"])
                ],
                "new": s["text"][:400],
                "ref": r["text"][:400],
            }
            for s, r in list(zip(new_samples, ref_samples, strict=True))[:3]
        ],
    }


def _per_token_nll(logps: list[float], samples: list[dict[str, Any]]) -> float | None:
    tokens = sum(len(s["completion_ids"]) for s in samples)
    return -sum(logps) / tokens if tokens else None


def _paired_se(a: list[float], b: list[float]) -> float | None:
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if len(diffs) < 2:
        return None
    return statistics.stdev(diffs) / len(diffs) ** 0.5


def gates_pass(metrics: dict[str, Any], gates: GateSection) -> tuple[bool, list[str]]:
    """Whether a candidate may be promoted automatically, and why not.

    Reads `reward_gain`, `kl`, `adequate_new`/`adequate_ref` and `length_new`/`length_ref`
    (from evaluate_policy), `kl_total` (the KL summed along the lineage, from the worker) and
    `reward_val_accuracy` (or `val_accuracy`) from the reward stage.
    """
    reasons: list[str] = []
    gain = metrics.get("reward_gain")
    if gain is None:
        reasons.append("no reward gain was measured")
    elif not gain > gates.min_reward_gain:
        reasons.append(f"reward gain {gain:.4f} is not above {gates.min_reward_gain:g}")
    if gates.max_kl is not None:
        kl = metrics.get("kl")
        if kl is None:
            reasons.append("no KL was measured")
        elif kl > gates.max_kl:
            reasons.append(f"KL to the reference {kl:.3f} exceeds {gates.max_kl:g}")
    if gates.min_reward_accuracy is not None:
        acc = metrics.get("reward_val_accuracy", metrics.get("val_accuracy"))
        if acc is None:
            reasons.append("the reward model has no validation accuracy (empty validation set)")
        elif acc < gates.min_reward_accuracy:
            reasons.append(
                f"reward-model validation accuracy {acc:.3f} is below {gates.min_reward_accuracy:g}"
            )
    if gates.kl_budget is not None:
        total = metrics.get("kl_total")
        if total is None:
            reasons.append("no KL along the lineage was measured")
        elif total > gates.kl_budget:
            reasons.append(
                f"KL along the lineage {total:.3f} exceeds the budget {gates.kl_budget:g}"
            )
    if gates.max_answer_drop is not None:
        new, ref = metrics.get("adequate_new"), metrics.get("adequate_ref")
        if new is None or ref is None:
            reasons.append("the share of complete answers was not measured")
        elif new < ref - gates.max_answer_drop:
            reasons.append(
                f"complete answers fell from {ref:.0%} to {new:.0%} "
                f"(more than {gates.max_answer_drop:.0%})"
            )
    if gates.min_length_ratio is not None:
        new, ref = metrics.get("length_new"), metrics.get("length_ref")
        if new is None or ref is None:
            reasons.append("answer length was not measured")
        elif ref > 0 and new < gates.min_length_ratio * ref:
            reasons.append(
                f"mean answer length {new:.1f} tokens is below {gates.min_length_ratio:g} x "
                f"the reference's {ref:.1f}"
            )
    return not reasons, reasons
