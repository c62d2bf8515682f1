"""Best-of-N fine-tuning and reward-ranked DPO: they rank the policy's own answers with the
reward model, train on the best, and change the policy (tiny models)."""

from __future__ import annotations

import pytest

from trainer.data import Snapshot
from trainer.ranked import (
    best_answers,
    rank_candidates,
    ranked_pairs,
    ranking_prompts,
    train_policy,
)
from trainer.synthetic import KEYWORD, synthetic_prompts
from trainer.types import never_stop, no_progress
from trainer.workspace import Workspace

from .test_policy import changed_tensors

pytestmark = pytest.mark.trainer


def pool_snapshot(rows, n_prompts: int = 4) -> Snapshot:
    prompts = synthetic_prompts(n_prompts, seed=5)
    answers = [
        f"{KEYWORD}, start with the basics.",
        "Start with the basics.",
        "Gather everything you need before you begin.",
        "Measure twice before you commit and do not rush the final",  # cut off: never a target
    ]
    pool = [(p, list(answers)) for p in prompts]
    extra = ["How do I juggle three balls?", "How do I whistle with two fingers?"]
    return Snapshot(0, rows, [], prompts + extra, [], {}, pool=pool)


def test_best_of_n_fine_tunes_on_the_best_complete_answers(
    tmp_path, tiny_policy_dir, trained_reward, keyword_rows, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy.model_copy(update={"method": "best_of_n", "bon_samples": 2, "steps": 2})
    snap = pool_snapshot(keyword_rows[:4])
    prompts = ranking_prompts(snap, cfg)
    assert len(prompts) == 6  # the 4 with stored answers first, then RL prompts to sample
    ranked = rank_candidates(prompts, tiny_policy_dir, trained_reward[0], cfg, no_progress)
    best = best_answers(ranked)
    # The reward model learnt the keyword rule: it picks the answer using it.
    assert all(text.startswith(KEYWORD) for _, text, *_ in best[:4])
    assert all(not text.endswith("final") for _, text, *_ in best)

    out = tmp_path / "v1"
    metrics = train_policy(
        snap, tiny_policy_dir, trained_reward[0], out, cfg, no_progress, never_stop
    )
    assert changed_tensors(tiny_policy_dir, out) > 0
    assert metrics["method"] == "best_of_n" and metrics["prompts"] >= 4
    assert metrics["best_reward"] > metrics["candidate_reward"]
    assert metrics["loss_curve"]


def test_rm_dpo_trains_on_ranked_pairs_beside_the_human_ones(
    tmp_path, tiny_policy_dir, trained_reward, keyword_rows, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy.model_copy(
        update={"method": "rm_dpo", "bon_samples": 0, "rm_pairs_per_prompt": 2}
    )
    snap = pool_snapshot(keyword_rows[:3])
    ranked = rank_candidates(
        ranking_prompts(snap, cfg), tiny_policy_dir, trained_reward[0], cfg, no_progress
    )
    pairs = ranked_pairs(ranked, cfg)
    assert len(pairs) == 8  # 4 answers a prompt: best v worst, second v third
    assert all(p.chosen.startswith(KEYWORD) for p in pairs[::2])

    out = tmp_path / "v1"
    metrics = train_policy(
        snap, tiny_policy_dir, trained_reward[0], out, cfg, no_progress, never_stop
    )
    assert changed_tensors(tiny_policy_dir, out) > 0
    assert (metrics["method"], metrics["ranked_pairs"], metrics["human_pairs"]) == ("rm_dpo", 8, 3)


def test_human_pair_dpo_runs_first_when_asked(
    tmp_path, tiny_policy_dir, trained_reward, keyword_rows, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy.model_copy(
        update={"method": "best_of_n", "bon_samples": 0, "human_dpo_steps": 1}
    )
    out = tmp_path / "v1"
    metrics = train_policy(
        pool_snapshot(keyword_rows[:4]),
        tiny_policy_dir,
        trained_reward[0],
        out,
        cfg,
        no_progress,
        never_stop,
    )
    assert metrics["human_dpo"]["steps"] == 1 and metrics["method"] == "best_of_n"
    assert changed_tensors(tiny_policy_dir, out) > 0


@pytest.mark.parametrize("method", ["best_of_n", "rm_dpo"])
def test_ranking_methods_checkpoint_in_the_run_folder_and_resume_there(
    method, tmp_path, tiny_policy_dir, trained_reward, keyword_rows, tiny_cfg
) -> None:
    cfg = tiny_cfg.policy.model_copy(
        update={"method": method, "bon_samples": 0, "steps": 2, "save_steps": 1}
    )
    work = Workspace(tmp_path / "run", save_total_limit=1)
    snap = pool_snapshot(keyword_rows[:4])
    first = train_policy(
        snap,
        tiny_policy_dir,
        trained_reward[0],
        tmp_path / "v1",
        cfg,
        no_progress,
        never_stop,
        workspace=work,
    )
    assert first["resumed_from_step"] is None
    checkpoint = work.resume_point("policy")
    assert checkpoint is not None and checkpoint[1] == 2
    assert len(list(work.stage_dir("policy").glob("checkpoint-*"))) == 1  # the newest alone
    # A retry of the run (its trainer killed before registering) resumes from there.
    again = train_policy(
        snap,
        tiny_policy_dir,
        trained_reward[0],
        tmp_path / "v2",
        cfg,
        no_progress,
        never_stop,
        workspace=work,
    )
    assert again["resumed_from_step"] == 2 and again["method"] == method
    assert changed_tensors(tiny_policy_dir, tmp_path / "v2") > 0
