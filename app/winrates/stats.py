"""Win-rate statistics between policy versions, free of the database.

An *outcome* is one head-to-head judgement: indices (i, j) of the two versions shown and
i's score, 1 for a win, 0.5 for a tie, 0 for a loss (both-bad judgements never get here).
Ratings are Bradley–Terry log-strengths fitted with choix (iterative Luce spectral
ranking), shifted so the reference version is 0; exp(r_i - r_j) is the odds that i beats j.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import choix
import numpy as np
from numpy.typing import NDArray

from app.domain.intervals import Interval

# A small prior (pseudo-comparisons between every pair) keeps the fit finite when one
# version won every comparison, which is common early on and in bootstrap resamples.
REGULARISATION = 0.01


@dataclass(frozen=True)
class Outcomes:
    i: NDArray[np.int64]
    j: NDArray[np.int64]
    score: NDArray[np.float64]  # i's score: 1 win, 0.5 tie, 0 loss

    @classmethod
    def from_rows(cls, rows: list[tuple[int, int, float]]) -> Outcomes:
        array = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        return cls(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2])

    def __len__(self) -> int:
        return len(self.score)

    def take(self, index: NDArray[np.int64]) -> Outcomes:
        return Outcomes(self.i[index], self.j[index], self.score[index])


def wins_matrix(outcomes: Outcomes, n_items: int) -> NDArray[np.float64]:
    """wins[i, j]: how often i beat j, ties counting half to each side."""
    wins = np.zeros((n_items, n_items))
    np.add.at(wins, (outcomes.i, outcomes.j), outcomes.score)
    np.add.at(wins, (outcomes.j, outcomes.i), 1.0 - outcomes.score)
    return wins


def count_matrix(outcomes: Outcomes, n_items: int) -> NDArray[np.int64]:
    """counts[i, j]: comparisons between i and j (symmetric)."""
    counts = np.zeros((n_items, n_items), dtype=np.int64)
    np.add.at(counts, (outcomes.i, outcomes.j), 1)
    np.add.at(counts, (outcomes.j, outcomes.i), 1)
    return counts


def win_rate_matrix(outcomes: Outcomes, n_items: int) -> list[list[float | None]]:
    """rate[i][j]: i's share of wins against j (ties half); None where they never met."""
    wins, counts = wins_matrix(outcomes, n_items), count_matrix(outcomes, n_items)
    return [
        [float(wins[a, b] / counts[a, b]) if counts[a, b] else None for b in range(n_items)]
        for a in range(n_items)
    ]


def fit_bradley_terry(outcomes: Outcomes, n_items: int, reference: int = 0) -> NDArray[np.float64]:
    """Bradley–Terry log-strengths with the reference item at 0."""
    params = choix.ilsr_pairwise_dense(
        wins_matrix(outcomes, n_items), alpha=REGULARISATION, max_iter=500
    )
    return np.asarray(params - params[reference], dtype=np.float64)


def bootstrap_ratings(
    outcomes: Outcomes, n_items: int, reference: int, samples: int, seed: int = 0
) -> NDArray[np.float64]:
    """Ratings refitted on `samples` resamples (with replacement) of the outcomes."""
    rng = np.random.default_rng(seed)
    fits = np.empty((samples, n_items))
    for k in range(samples):
        index = rng.integers(0, len(outcomes), size=len(outcomes))
        fits[k] = fit_bradley_terry(outcomes.take(index), n_items, reference)
    return fits


def rating_intervals(
    outcomes: Outcomes,
    n_items: int,
    reference: int,
    samples: int,
    level: float = 0.95,
    seed: int = 0,
) -> list[Interval]:
    """Each item's rating with a percentile bootstrap interval at `level`."""
    estimate = fit_bradley_terry(outcomes, n_items, reference)
    if samples < 1 or len(outcomes) == 0:
        return [Interval(float(e), float(e), float(e)) for e in estimate]
    fits = bootstrap_ratings(outcomes, n_items, reference, samples, seed)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(fits, [tail, 100 - tail], axis=0)
    return [
        Interval(float(e), float(lo), float(hi))
        for e, lo, hi in zip(estimate, low, high, strict=True)
    ]


def probability_intervals(
    outcomes: Outcomes,
    n_items: int,
    pairs: list[tuple[int, int]],
    samples: int,
    level: float = 0.95,
    seed: int = 0,
) -> list[Interval]:
    """For each (a, b): P(a beats b) under Bradley–Terry, with a percentile bootstrap interval."""
    estimate = fit_bradley_terry(outcomes, n_items)
    fits = (
        bootstrap_ratings(outcomes, n_items, 0, samples, seed)
        if samples >= 1 and len(outcomes)
        else estimate[np.newaxis, :]
    )
    tail = (1 - level) / 2 * 100
    out = []
    for a, b in pairs:
        spread = 1.0 / (1.0 + np.exp(-(fits[:, a] - fits[:, b])))
        low, high = np.percentile(spread, [tail, 100 - tail])
        out.append(Interval(win_probability(estimate[a] - estimate[b]), float(low), float(high)))
    return out


def win_probability(rating_difference: float) -> float:
    """P(i beats j) when i's rating exceeds j's by `rating_difference`."""
    return 1.0 / (1.0 + math.exp(-rating_difference))
