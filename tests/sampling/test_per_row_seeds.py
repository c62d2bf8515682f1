"""Per-row seeds in the transformers sampler: a row's tokens depend on its seed alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from app.domain.store import ModelStore
from app.sampling.backend import SampleRequest, VersionRef
from app.sampling.transformers_backend import TransformersBackend, _per_row_sampler
from tests.factories.sampling import sampler_settings


def _picks(seeds: list[int], scores: torch.Tensor, steps: int = 6) -> list[list[int]]:
    """The tokens each row draws over `steps` calls, as greedy decoding would take them."""
    sampler = _per_row_sampler(seeds, temperature=1.0, top_p=0.9)
    ids = torch.zeros((len(seeds), 1), dtype=torch.long, device=scores.device)
    rows: list[list[int]] = [[] for _ in seeds]
    for _ in range(steps):
        picked = sampler(ids, scores.clone()).argmax(dim=-1).tolist()
        for row, token in zip(rows, picked, strict=True):
            row.append(token)
    return rows


def test_a_rows_draws_do_not_depend_on_the_rest_of_the_batch() -> None:
    torch.manual_seed(0)
    scores = torch.randn(1, 50).repeat(4, 1)  # the same distribution in every row
    together = _picks([7, 8, 9, 10], scores)
    alone = _picks([9], scores[:1])
    reordered = _picks([10, 9], scores[:2])
    assert together[2] == alone[0] == reordered[1]
    assert len({tuple(r) for r in together}) == 4  # different seeds, different draws


def test_top_p_cuts_are_never_drawn() -> None:
    scores = torch.full((3, 20), -1e4)
    scores[:, 5] = 0.0
    scores[:, 11] = -0.1  # the two tokens inside top-p; every other token has mass ~0
    for row in _picks([1, 2, 3], scores, steps=20):
        assert set(row) <= {5, 11}


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the GPU check runs it)")
def test_per_row_seeds_on_cuda_match_the_cpu_draws() -> None:
    torch.manual_seed(0)
    scores = torch.randn(3, 64)
    assert _picks([1, 2, 3], scores.cuda()) == _picks([1, 2, 3], scores)
