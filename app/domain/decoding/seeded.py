"""Seeded sampling per row: a row's tokens depend on its seed and its own logits alone.

HF `generate` draws every row of a batch from one random stream, so a batched sample
could not be tied to a seed of its own. Here each row has its own `torch.Generator`, and
the token is picked from the row's distribution by inverting its cumulative mass at that
row's uniform draw, for the whole batch at once on the model's device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the base install has none
    import torch

# Tokens taken by `topk` before the nucleus is cut: a trained model's top-p mass almost
# always lies within them, and a partial sort of the vocabulary is far cheaper than a
# full one. A row whose nucleus is wider is sorted in full, so the result is exact.
CANDIDATES = 512

__all__ = ["CANDIDATES", "RowDraws", "pick_tokens"]


class RowDraws:
    """One seeded random stream per row: the uniform draw for each token a row samples.

    The draws come from a CPU `torch.Generator(seed)` per row and are moved to the model's
    device, so a seed gives the same draws on CPU and CUDA, whatever else is in the batch.
    """

    def __init__(self, seeds: list[int], steps: int, device: str | torch.device = "cpu") -> None:
        import torch

        streams = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
        rows = [torch.rand(steps, generator=g, dtype=torch.float64) for g in streams]
        self.table = torch.stack(rows).to(device) if rows else torch.empty((0, steps))

    def at(self, rows: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """Each given row's draw for its given step (both index tensors on the table's device)."""
        return self.table[rows, steps]


def pick_tokens(
    logits: torch.Tensor,
    draws: torch.Tensor,
    temperature: torch.Tensor,
    top_p: torch.Tensor,
    top_k: torch.Tensor,
) -> torch.Tensor:
    """One token per row from `logits` (rows, vocab), each row with its own parameters.

    `draws`, `temperature`, `top_p` (rows,) float; `top_k` (rows,) long, 0 = no limit.
    Kept are the most probable tokens whose mass first reaches top-p (at most top-k,
    at least one; a tie at the cut is kept whole); the pick is the first kept token, in
    vocabulary order, whose cumulative kept mass exceeds the draw.
    """
    import torch

    # float64: a 50k-token cumulative sum in float32 loses the tail's resolution.
    probs = torch.softmax(logits.double() / temperature.double().unsqueeze(1), dim=-1)
    rows, vocab = probs.shape
    cut = torch.empty(rows, dtype=probs.dtype, device=probs.device)  # smallest kept probability
    k = min(CANDIDATES, vocab)
    top, _ = probs.topk(k, dim=-1)  # descending
    kept = _kept_count(top, top_p, top_k)
    # top-p 1 without top-k keeps every token: no cut, and no sort of the vocabulary.
    whole = (top_p.to(probs.device).double() >= 1.0) & (top_k.to(probs.device) <= 0)
    cut[whole] = 0.0
    # The nucleus reaches past the candidates: sort those rows in full.
    wide = (kept > k) & ~whole
    narrow = ~wide & ~whole
    cut[narrow] = top[narrow].gather(1, (kept[narrow] - 1).unsqueeze(1)).squeeze(1)
    if bool(wide.any()):
        full, _ = probs[wide].sort(dim=-1, descending=True)
        count = _kept_count(full, top_p[wide], top_k[wide]).clamp(max=vocab)
        cut[wide] = full.gather(1, (count - 1).unsqueeze(1)).squeeze(1)
    mass = probs.masked_fill(probs < cut.unsqueeze(1), 0.0)
    cdf = mass.cumsum(dim=-1)
    targets = draws.to(cdf.device, torch.float64).unsqueeze(1) * cdf[:, -1:]
    # right=True: the first token whose cumulative mass exceeds the draw, which never
    # lands on a token of mass zero (one cut by top-p or top-k).
    picks = torch.searchsorted(cdf, targets, right=True).clamp_(max=vocab - 1)
    return picks.squeeze(1)


def _kept_count(descending: torch.Tensor, top_p: torch.Tensor, top_k: torch.Tensor) -> torch.Tensor:
    """Tokens kept per row from its probabilities sorted in descending order; a count past
    the columns given (`descending.shape[1] + 1`) means the nucleus reaches beyond them."""
    import torch

    width = descending.shape[1]
    below = descending.cumsum(dim=-1) < top_p.double().unsqueeze(1)
    count = below.sum(dim=-1) + 1  # the token whose mass reaches top-p is kept too
    limit = torch.where(top_k > 0, top_k, torch.full_like(top_k, width + 1))
    count = torch.minimum(count, limit.to(count.dtype))
    # Reaching the last column without the mass reaching top-p: not decided here.
    reached = count <= width
    return torch.where(reached, count, torch.full_like(count, width + 1))
