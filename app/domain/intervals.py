"""A share with its Wilson score interval, and a test that shares differ: the leaderboard's
direct win-rates, the simulated evaluators' measurements, the human trial of a candidate
version, each version's unsafe share and the cohort figures of the bias checks all use it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2_contingency, norm

__all__ = ["Interval", "shares_differ_p", "wilson_interval"]


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson_interval(score: float, n: float, level: float = 0.95) -> Interval:
    """Win share score/n with a Wilson score interval (score may be fractional: ties half)."""
    if n <= 0:
        return Interval(math.nan, 0.0, 1.0)
    z = float(norm.ppf(0.5 + level / 2))
    p = score / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At 0 or n the bound is exactly 0 or 1; rounding would leave a trace above or below it.
    low = 0.0 if score <= 0 else max(0.0, centre - half)
    high = 1.0 if score >= n else min(1.0, centre + half)
    return Interval(p, low, high)


def shares_differ_p(groups: Sequence[tuple[float, float]]) -> float | None:
    """p-value of a chi-square test that the groups' shares (successes, n) are equal: for two
    groups, the two-proportion z-test. None when undefined (fewer than two groups with data,
    or every share 0 or every share 1)."""
    rows = [(s, n - s) for s, n in groups if n > 0]
    if len(rows) < 2:
        return None
    table = np.array(rows, dtype=float)
    if (table.sum(axis=0) == 0).any():
        return None
    return float(chi2_contingency(table, correction=False).pvalue)
