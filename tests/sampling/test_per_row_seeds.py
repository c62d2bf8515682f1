"""Per-row seeds: a row's tokens depend on its seed and its own logits alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.domain.decoding.seeded import CANDIDATES, RowDraws, pick_tokens
from app.domain.store import ModelStore
from app.sampling.backend import Sample, SampleRequest, VersionRef
from app.sampling.transformers_backend import TransformersBackend
from tests.factories.sampling import sampler_settings


def _picks(
    seeds: list[int], scores: torch.Tensor, steps: int = 6, top_p: float = 0.9, top_k: int = 0
) -> list[list[int]]:
    """The tokens each row draws over `steps` steps from the same logits."""
    rows = len(seeds)
    draws = RowDraws(seeds, steps, scores.device)
    index = torch.arange(rows, device=scores.device)
    picked: list[list[int]] = [[] for _ in seeds]
    for step in range(steps):
        tokens = pick_tokens(
            scores,
            draws.at(index, torch.full((rows,), step, device=scores.device)),
            torch.full((rows,), 1.0, device=scores.device),
            torch.full((rows,), top_p, device=scores.device),
            torch.full((rows,), top_k, dtype=torch.long, device=scores.device),
        )
        for row, token in zip(picked, tokens.tolist(), strict=True):
            row.append(token)
    return picked


def test_a_rows_draws_do_not_depend_on_the_rest_of_the_batch() -> None:
    torch.manual_seed(0)
    scores = torch.randn(1, 50).repeat(4, 1)  # the same distribution in every row
    together = _picks([7, 8, 9, 10], scores)
    alone = _picks([9], scores[:1])
    reordered = _picks([10, 9], scores[:2])
    assert together[2] == alone[0] == reordered[1]
    assert len({tuple(r) for r in together}) == 4  # different seeds, different draws


def test_a_wide_nucleus_beside_a_narrow_one_is_cut_exactly() -> None:
    """A flat distribution (nucleus past the top-k candidates) and a peaked one in one batch
    draw as they do alone, and the peaked one only from its nucleus."""
    vocab = 4 * CANDIDATES
    flat = torch.zeros(1, vocab)
    peaked = torch.full((1, vocab), -1e4)
    peaked[0, [3, 900]] = torch.tensor([0.0, -0.2])
    scores = torch.cat([flat, peaked])
    together = _picks([1, 2], scores, steps=30)
    assert together[0] == _picks([1], flat, steps=30)[0]
    assert together[1] == _picks([2], peaked, steps=30)[0]
    assert set(together[1]) <= {3, 900}
    assert len(set(together[0])) > 20  # the flat row draws all over the vocabulary


def test_top_p_cuts_are_never_drawn() -> None:
    scores = torch.full((3, 20), -1e4)
    scores[:, 5] = 0.0
    scores[:, 11] = -0.1  # the two tokens inside top-p; every other token has mass ~0
    for row in _picks([1, 2, 3], scores, steps=20):
        assert set(row) <= {5, 11}


def test_top_k_one_is_the_most_probable_token() -> None:
    torch.manual_seed(1)
    scores = torch.randn(4, 300)
    for row, tokens in enumerate(_picks([1, 2, 3, 4], scores, top_p=1.0, top_k=1)):
        assert set(tokens) == {int(scores[row].argmax())}


def test_a_seed_gives_the_same_text_alone_and_in_a_mixed_batch(
    tiny_policy_dir: Path, tmp_path: Path
) -> None:
    """Through `generate`: padding and neighbours of other lengths do not change a row."""
    store = ModelStore(tiny_policy_dir.parent)
    settings = sampler_settings(tmp_path, sample_batch_size=8, max_new_tokens=12)
    backend = TransformersBackend(settings, store)
    backend.load(VersionRef(1, 1, 0, tiny_policy_dir.name))
    batch = [
        SampleRequest(1, "a much longer prompt that needs no padding at all", None, seed=5),
        SampleRequest(2, "short", None, seed=77),
        SampleRequest(3, "a prompt of middling length", None, seed=123),
    ]
    together = backend.generate(batch)
    assert backend.generate_calls[-1] == 3
    for i, request in enumerate(batch):
        assert backend.generate([request])[0].text == together[i].text
    again = backend.generate([SampleRequest(2, "short", None, seed=78)])
    assert again[0].text != together[1].text


def test_streaming_gives_the_text_generate_gives_for_the_seed(
    tiny_policy_dir: Path, tmp_path: Path
) -> None:
    store = ModelStore(tiny_policy_dir.parent)
    backend = TransformersBackend(sampler_settings(tmp_path, max_new_tokens=12), store)
    backend.load(VersionRef(1, 1, 0, tiny_policy_dir.name))
    request = SampleRequest(1, "Tell me about tea.", None, seed=42)
    *pieces, sample = list(backend.stream(request))
    expected = backend.generate([request])[0]
    assert isinstance(sample, Sample)
    assert "".join(str(p) for p in pieces).strip() == sample.text == expected.text
    assert (sample.completion_tokens, sample.finish_reason) == (
        expected.completion_tokens,
        expected.finish_reason,
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the GPU check runs it)")
def test_per_row_seeds_on_cuda_match_the_cpu_draws() -> None:
    torch.manual_seed(0)
    scores = torch.randn(3, 64)
    assert _picks([1, 2, 3], scores.cuda()) == _picks([1, 2, 3], scores)
