"""Policy methods that use the reward model as a ranker of the policy's own answers.

- `best_of_n` — rejection-sampling fine-tuning (Llama 2): for each prompt the candidates are
  N fresh samples from the starting policy plus the sampler's stored answers to it (the
  pool); the reward model's best complete answer is kept, and the policy is fine-tuned on
  those answers (loss on the completion only).
- `rm_dpo` — DPO on pairs the reward model ranks among the same candidates (best against
  worst, second best against second worst ...), beside the human pairs.

Only complete answers (app/domain/answers.py: not empty, not cut off) are ever a target, so
neither method teaches the policy to stop mid-sentence. `train_policy` picks the method the
recipe names and runs the optional DPO on the human pairs before it.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from datasets import Dataset

from app.domain.answers import adequate
from app.domain.checkpoints import is_adapter_folder
from app.domain.recipe import EvalSection, PolicySection
from app.domain.scorer import RewardScorer
from trainer import ranks
from trainer.data import Snapshot
from trainer.evaluate import sample
from trainer.policy import dpo_policy, optimise_policy
from trainer.stage import load_policy, run_policy_stage
from trainer.types import PreferenceRow, Progress, Prompt, ShouldStop, as_messages
from trainer.workspace import Workspace

Ranked = list[tuple[Prompt, list[tuple[float, str]]]]  # per prompt: (reward, answer), best first


def _key(prompt: Prompt) -> str:
    return json.dumps(prompt, sort_keys=True)


def ranking_prompts(snap: Snapshot, cfg: PolicySection) -> list[tuple[Prompt, list[str]]]:
    """Prompts to rank with their stored answers: those with answers first, then other RL
    prompts (fresh samples only), at most `rank_prompts`."""
    out = [(p, list(answers)) for p, answers in snap.pool]
    seen = {_key(p) for p, _ in out}
    if cfg.bon_samples > 0:
        out += [(p, []) for p in snap.rl_prompts if _key(p) not in seen]
    return out[: cfg.rank_prompts] if cfg.rank_prompts else out


def rank_candidates(
    prompts: list[tuple[Prompt, list[str]]],
    policy: Path,
    reward: Path,
    cfg: PolicySection,
    progress: Progress,
    base: Path | None = None,
) -> Ranked:
    """Stored answers plus `bon_samples` fresh ones per prompt, scored and sorted."""
    fresh: dict[str, list[str]] = {}
    if cfg.bon_samples > 0 and prompts:
        progress(0.0, f"ranking: sampling {cfg.bon_samples} answers per prompt", {})
        model, tokenizer = load_policy(policy, base)
        model.eval()
        sampling = EvalSection(
            max_new_tokens=cfg.max_completion_length,
            samples_per_prompt=cfg.bon_samples,
            temperature=cfg.temperature,
            batch_size=cfg.sample_batch_size,
            seed=cfg.seed,
        )
        for s in sample(model, tokenizer, [p for p, _ in prompts], sampling, cfg.system_prompt):
            if s["stopped"]:
                fresh.setdefault(_key(s["prompt"]), []).append(s["text"])  # ended by itself
        del model
    progress(0.0, "ranking: scoring answers with the reward model", {})
    scorer = RewardScorer(reward)
    ranked: Ranked = []
    for prompt, stored in prompts:
        texts = list(dict.fromkeys(stored + fresh.get(_key(prompt), [])))
        if not texts:
            continue
        scores = scorer.score([prompt] * len(texts), texts)
        ranked.append((prompt, sorted(zip(scores, texts, strict=True), reverse=True)))
    return ranked


def best_answers(ranked: Ranked) -> list[tuple[Prompt, str, float, float]]:
    """(prompt, best complete answer, its reward, mean reward of all candidates) per prompt."""
    out = []
    for prompt, scored in ranked:
        complete = [(r, t) for r, t in scored if adequate(t)]
        if complete:
            out.append(
                (prompt, complete[0][1], complete[0][0], statistics.fmean(r for r, _ in scored))
            )
    return out


def ranked_pairs(ranked: Ranked, cfg: PolicySection) -> list[PreferenceRow]:
    """Best against worst, second best against second worst ... (chosen must be complete)."""
    rows = []
    for prompt, scored in ranked:
        for k in range(cfg.rm_pairs_per_prompt):
            if k >= len(scored) - 1 - k:
                break
            (good, chosen), (bad, rejected) = scored[k], scored[-1 - k]
            if good - bad > cfg.rm_min_gap and adequate(chosen):
                rows.append(PreferenceRow(prompt, chosen, rejected, None))
    return rows


def best_of_n_policy(
    ranked: Ranked,
    policy: Path,
    out_dir: Path,
    cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    base: Path | None = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """Fine-tune the policy on the reward model's best answer to each prompt."""
    best = best_answers(ranked)
    if not best:
        raise ValueError("best_of_n: no complete answer to fine-tune on")
    from trl import SFTConfig, SFTTrainer

    dataset = Dataset.from_dict(
        {
            "prompt": [as_messages(p, cfg.system_prompt) for p, *_ in best],
            "completion": [[{"role": "assistant", "content": t}] for _, t, *_ in best],
        }
    )
    settings = {
        "per_device_train_batch_size": cfg.sft_batch_size,
        "max_length": cfg.max_prompt_length + cfg.max_completion_length,
        "completion_only_loss": True,
        "packing": False,
    }
    metrics = run_policy_stage(
        (SFTConfig, SFTTrainer),
        settings,
        dataset,
        policy,
        out_dir,
        cfg,
        progress,
        should_stop,
        label="policy (best_of_n)",
        base=base,
        workspace=workspace,
    )
    metrics.update(
        method="best_of_n",
        prompts=len(best),
        candidates=sum(len(scored) for _, scored in ranked),
        best_reward=statistics.fmean(b for *_, b, _ in best),
        candidate_reward=statistics.fmean(m for *_, m in best),
    )
    return metrics


def train_policy(
    snap: Snapshot,
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
    """The policy stage the recipe names, after `human_dpo_steps` of DPO on the human pairs
    (the method's checkpoints, resume and tracker logs in `workspace`; `kl_budget`: where
    RL stops early, see trainer/policy.py)."""
    before: dict[str, Any] | None = None
    scratch = None
    if cfg.human_dpo_steps and cfg.method != "dpo" and snap.rows:
        # One folder for every rank of a launch: rank 0 writes the DPO result, all read it.
        made = tempfile.mkdtemp(prefix="pairwise-human-dpo-") if ranks.is_main() else ""
        scratch = Path(ranks.share(made))
        first = cfg.model_copy(update={"steps": cfg.human_dpo_steps})
        before = dpo_policy(snap.rows, policy, scratch, first, progress, should_stop, base)
        if is_adapter_folder(scratch):
            base = base or policy  # an adapter on the same full weights, trained further
        policy = scratch
    try:
        metrics = _method(
            snap, policy, reward, out_dir, cfg, progress, should_stop, base, workspace, kl_budget
        )
    finally:
        if scratch is not None and ranks.is_main():
            shutil.rmtree(scratch, ignore_errors=True)
    if before is not None:
        metrics["human_dpo"] = {k: before[k] for k in ("steps", "train_seconds", "loss_curve")}
    progress(1.0, f"policy ({cfg.method}): done", {})
    return metrics


def _method(
    snap: Snapshot,
    policy: Path,
    reward: Path,
    out_dir: Path,
    cfg: PolicySection,
    progress: Progress,
    should_stop: ShouldStop,
    base: Path | None,
    workspace: Workspace | None,
    kl_budget: float | None,
) -> dict[str, Any]:
    if cfg.method == "dpo":
        return dpo_policy(snap.rows, policy, out_dir, cfg, progress, should_stop, base, workspace)
    if cfg.method in ("rloo", "grpo"):
        return optimise_policy(
            snap.rl_prompts,
            policy,
            reward,
            out_dir,
            cfg,
            progress,
            should_stop,
            base,
            workspace,
            kl_budget,
        )
    # Rank 0 samples and ranks; every rank of a launch fine-tunes on the same answers.
    ranked: Ranked | None = None
    if ranks.is_main():
        ranked = rank_candidates(ranking_prompts(snap, cfg), policy, reward, cfg, progress, base)
    ranked = ranks.share(ranked)
    assert ranked is not None
    if cfg.method == "best_of_n":
        return best_of_n_policy(
            ranked, policy, out_dir, cfg, progress, should_stop, base, workspace
        )
    pairs = ranked_pairs(ranked, cfg)
    rows = pairs + (snap.rows if cfg.rm_dpo_human_pairs else [])
    if not rows:
        raise ValueError("rm_dpo: no ranked or human pairs to train on")
    metrics = dpo_policy(rows, policy, out_dir, cfg, progress, should_stop, base, workspace)
    metrics.update(method="rm_dpo", ranked_pairs=len(pairs), human_pairs=len(rows) - len(pairs))
    return metrics
