"""The hidden-rule win-rate the learning benchmark reports per round."""

from __future__ import annotations

import math

import pytest

from app.simulate.measure import rule_win_rate
from app.simulate.rules import parse_rule

SHORT = "Paris."
LONG = "The capital city of France is Paris, on the Seine."


def test_candidate_that_follows_the_rule_wins_whatever_the_side() -> None:
    rule = parse_rule("concise")
    prompts = ["q"] * 40
    result = rule_win_rate(rule, prompts, [SHORT] * 40, [LONG] * 40, seed=3)
    assert (result.wins, result.losses, result.ties) == (40, 0, 0)
    assert result.interval.estimate == 1.0 and result.interval.low > 0.9
    reverse = rule_win_rate(rule, prompts, [LONG] * 40, [SHORT] * 40, seed=3)
    assert reverse.losses == 40 and reverse.interval.high < 0.1


def test_ties_half_both_bad_left_out_and_lengths_checked() -> None:
    rule = parse_rule("concise")
    result = rule_win_rate(
        rule, ["q"] * 4, [SHORT, "Rome.", "", SHORT], [LONG, "Oslo.", "", "Paris!"]
    )
    assert (result.wins, result.ties, result.both_bad) == (1, 2, 1)
    assert result.judged == 3
    assert result.interval.estimate == pytest.approx(2 / 3)
    empty = rule_win_rate(rule, ["q"], [""], [""])
    assert empty.judged == 0 and math.isnan(empty.interval.estimate)
    with pytest.raises(ValueError, match="same length"):
        rule_win_rate(rule, ["q"], [SHORT, SHORT], [LONG])
