"""Bradley–Terry fit, bootstrap intervals and Wilson intervals against hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from app.domain.intervals import wilson_interval
from app.winrates.stats import (
    Outcomes,
    fit_bradley_terry,
    rating_intervals,
    win_probability,
    win_rate_matrix,
)

TRUE = np.array([0.0, math.log(2.0), math.log(6.0)])  # v1 twice as strong as v0, v2 six times


def from_win_matrix(wins: list[list[int]]) -> Outcomes:
    """Outcomes realising a hand-made win matrix exactly: wins[i][j] wins of i over j."""
    rows = []
    for i, row in enumerate(wins):
        for j, count in enumerate(row):
            rows += [(i, j, 1.0)] * count
    return Outcomes.from_rows(rows)


def expected_wins(n_per_pair: int) -> list[list[int]]:
    """The win matrix the true strengths predict for `n_per_pair` games per pair."""
    size = len(TRUE)
    return [
        [
            0 if i == j else round(n_per_pair * win_probability(TRUE[i] - TRUE[j]))
            for j in range(size)
        ]
        for i in range(size)
    ]


def test_fit_recovers_order_and_strength_ratios_from_a_win_matrix() -> None:
    wins = expected_wins(300)
    assert wins[1][0] == 200 and wins[0][1] == 100  # 2:1 odds, as built
    ratings = fit_bradley_terry(from_win_matrix(wins), 3)
    assert ratings[0] == 0.0
    assert ratings[0] < ratings[1] < ratings[2]
    assert math.exp(ratings[1]) == pytest.approx(2.0, rel=0.05)
    assert math.exp(ratings[2]) == pytest.approx(6.0, rel=0.05)
    assert math.exp(ratings[2] - ratings[1]) == pytest.approx(3.0, rel=0.05)


def test_intervals_contain_the_truth_and_exclude_even_odds_when_decisive() -> None:
    intervals = rating_intervals(from_win_matrix(expected_wins(300)), 3, 0, samples=200)
    for k in (1, 2):
        assert intervals[k].low < TRUE[k] < intervals[k].high
        assert intervals[k].low > 0  # v1 and v2 are better than v0, and the data say so
    # Few games: the same odds no longer exclude "no better than v0".
    few = rating_intervals(from_win_matrix(expected_wins(6)), 3, 0, samples=200)
    assert few[1].low < 0 < few[1].high
    assert few[1].high - few[1].low > 3 * (intervals[1].high - intervals[1].low)


def test_reference_can_be_any_version() -> None:
    ratings = fit_bradley_terry(from_win_matrix(expected_wins(300)), 3, reference=2)
    assert ratings[2] == 0.0
    assert ratings[0] < ratings[1] < 0


def test_an_unbeaten_version_gets_a_finite_rating() -> None:
    outcomes = Outcomes.from_rows([(1, 0, 1.0)] * 20)
    ratings = fit_bradley_terry(outcomes, 2)
    assert math.isfinite(ratings[1]) and ratings[1] > 2


def test_ties_count_half() -> None:
    # Two ties and one win for version 1 in three games: 2/3 of the points.
    outcomes = Outcomes.from_rows([(0, 1, 0.5), (1, 0, 0.5), (1, 0, 1.0)])
    rates = win_rate_matrix(outcomes, 3)
    assert rates[1][0] == pytest.approx(2 / 3)
    assert rates[0][1] == pytest.approx(1 / 3)
    assert rates[0][2] is None and rates[2][2] is None
    all_ties = Outcomes.from_rows([(0, 1, 0.5)] * 10)
    assert fit_bradley_terry(all_ties, 2)[1] == pytest.approx(0.0, abs=1e-6)


def test_wilson_matches_scipy_for_whole_counts_and_accepts_halves() -> None:
    for wins, n in ((8, 10), (0, 5), (50, 50), (37, 120)):
        ours = wilson_interval(wins, n)
        ref = binomtest(wins, n).proportion_ci(method="wilson")
        assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high))
    half = wilson_interval(7.5, 10)
    assert half.estimate == 0.75
    assert wilson_interval(7, 10).low < half.low < wilson_interval(8, 10).low
    assert wilson_interval(45, 50).low > 0.5  # decisive
    assert wilson_interval(6, 10).low < 0.5  # not decisive
