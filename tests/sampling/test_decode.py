"""The decoding loop: rows leave as they finish, waiting prompts take their slots, and a
seed gives the same tokens whatever else is decoded beside it."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.decoding.decode import Decoded, SamplingParams, StopRequested, decode
from app.vocabulary import FinishReason

PARAMS = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=0.9)
# Token ids of different lengths (the tiny model's vocabulary is SmolLM2's, 49k tokens).
PROMPTS = [[5, 9, 300, 41], [7], [1000, 2000, 3000, 4000, 5000, 6000, 7000], [11, 12], [99] * 5]
SEEDS = [3, 1, 4, 1_000_003, 59]


def _run(model: Any, prompts: list[list[int]], seeds: list[int], **kw: Any) -> list[Decoded]:
    kw = {"stop_ids": set(), "pad_id": 0, "batch_size": 8, **kw}
    return decode(model, prompts, seeds, kw.pop("params", PARAMS), **kw)


def test_a_seed_gives_the_same_tokens_alone_and_beside_others(tiny_policy_model: Any) -> None:
    together = _run(tiny_policy_model, PROMPTS, SEEDS)
    # Two slots for five prompts: later prompts join a batch already under way.
    admitted: list[int] = []
    in_slots = _run(tiny_policy_model, PROMPTS, SEEDS, batch_size=2, on_batch=admitted.append)
    assert sum(admitted) == 5 and max(admitted) == 2 and len(admitted) > 1
    for i, (prompt, seed) in enumerate(zip(PROMPTS, SEEDS, strict=True)):
        alone = _run(tiny_policy_model, [prompt], [seed])[0]
        assert together[i].tokens == in_slots[i].tokens == alone.tokens
        assert together[i].prompt_tokens == len(prompt)
    assert len({tuple(r.tokens) for r in together}) == len(PROMPTS)


def test_rows_end_at_a_stop_token_or_the_token_limit(tiny_policy_model: Any) -> None:
    free = _run(tiny_policy_model, PROMPTS, SEEDS)
    assert all(len(r.tokens) == 10 and r.finish_reason == FinishReason.length for r in free)
    stop = free[0].tokens[3]  # row 0 stops at its fourth token; the others may meet it too
    stopped = _run(tiny_policy_model, PROMPTS, SEEDS, stop_ids={stop}, batch_size=3)
    for before, after in zip(free, stopped, strict=True):
        if stop in before.tokens:
            assert after.tokens == before.tokens[: before.tokens.index(stop)]
            assert after.finish_reason == FinishReason.stop
        else:  # neighbours leaving the batch early changed nothing for this row
            assert after.tokens == before.tokens
            assert after.finish_reason == FinishReason.length
    assert len(stopped[0].tokens) <= 3


def test_new_tokens_are_seen_as_they_are_picked(tiny_policy_model: Any) -> None:
    seen: dict[int, list[int]] = {}
    out = _run(
        tiny_policy_model,
        PROMPTS,
        SEEDS,
        batch_size=2,
        on_token=lambda row, token: seen.setdefault(row, []).append(token),
    )
    assert [seen[i] for i in range(len(PROMPTS))] == [r.tokens for r in out]


def test_a_stop_request_ends_decoding(tiny_policy_model: Any) -> None:
    calls = iter(range(100))
    with pytest.raises(StopRequested):
        _run(tiny_policy_model, PROMPTS, SEEDS, should_stop=lambda: next(calls) >= 3)
