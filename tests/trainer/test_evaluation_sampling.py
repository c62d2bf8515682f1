"""The trainer's evaluation and best-of-N samples: the sampler's decoding loop, seeded per row."""

from __future__ import annotations

from pathlib import Path

from app.domain.decoding.decode import stop_token_ids
from app.domain.recipe import EvalSection
from trainer.evaluate import sample
from trainer.stage import load_policy

PROMPTS = ["Write a haiku about tea.", "Name a colour.", "What is two plus two?"]


def test_evaluation_answers_depend_on_the_seed_not_on_the_batch(tiny_policy_dir: Path) -> None:
    model, tokenizer = load_policy(tiny_policy_dir)
    model.eval()
    cfg = EvalSection(max_new_tokens=12, samples_per_prompt=2, batch_size=1, seed=7)

    alone = sample(model, tokenizer, PROMPTS, cfg)
    batched = sample(model, tokenizer, PROMPTS, cfg.model_copy(update={"batch_size": 4}))
    reseeded = sample(model, tokenizer, PROMPTS, cfg.model_copy(update={"seed": 8}))

    assert [s["completion_ids"] for s in alone] == [s["completion_ids"] for s in batched]
    assert [s["completion_ids"] for s in alone] != [s["completion_ids"] for s in reseeded]
    assert [s["prompt"] for s in alone] == [p for p in PROMPTS for _ in (0, 1)]
    for s in alone:
        # An answer that ended by itself keeps its stop token (its probability counts in
        # the KL); one cut at the limit has exactly max_new_tokens tokens.
        if s["stopped"]:
            assert s["completion_ids"][-1] in stop_token_ids(model, tokenizer)
        else:
            assert len(s["completion_ids"]) == cfg.max_new_tokens
        assert s["prompt_ids"] and isinstance(s["text"], str)
