"""A win share with its Wilson score interval: the leaderboard's direct win-rates, the
simulated evaluators' measurements and the human trial of a candidate version all use it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

__all__ = ["Interval", "wilson_interval"]


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
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))
