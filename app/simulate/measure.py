"""Judge one version against another with a hidden rule: the benchmark's measure of progress."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.intervals import Interval, wilson_interval
from app.simulate.rules import Rule


@dataclass(frozen=True)
class RuleWinRate:
    """Candidate's share of wins over the baseline (ties half, both-bad left out)."""

    wins: int
    ties: int
    losses: int
    both_bad: int
    interval: Interval

    @property
    def judged(self) -> int:
        return self.wins + self.ties + self.losses


def rule_win_rate(
    rule: Rule,
    prompts: Sequence[str],
    candidate: Sequence[str],
    baseline: Sequence[str],
    *,
    seed: int = 0,
    level: float = 0.95,
) -> RuleWinRate:
    """Compare candidate[k] with baseline[k] on prompts[k], sides shuffled, Wilson interval."""
    if not len(prompts) == len(candidate) == len(baseline):
        raise ValueError("prompts, candidate and baseline must have the same length")
    rng = random.Random(seed)  # noqa: S311 - which side is shown first, not security
    wins = ties = losses = both_bad = 0
    for prompt, mine, theirs in zip(prompts, candidate, baseline, strict=True):
        mine_first = rng.random() < 0.5
        first, second = (mine, theirs) if mine_first else (theirs, mine)
        choice, _ = rule(prompt, first, second)
        if choice == "both_bad":
            both_bad += 1
        elif choice == "tie":
            ties += 1
        elif (choice == "a") == mine_first:
            wins += 1
        else:
            losses += 1
    judged = wins + ties + losses
    return RuleWinRate(
        wins, ties, losses, both_bad, wilson_interval(wins + ties / 2, judged, level)
    )
