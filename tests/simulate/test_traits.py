"""Content-trait rules: decisions on hand-made answers, and the trait rate from the same code."""

from __future__ import annotations

import pytest

from app.simulate.rules import RuleError, parse_rule
from app.simulate.traits import TRAITS, trait_rate

Q = "How do I water a cactus?"


@pytest.mark.parametrize(
    ("spec", "shows", "lacks"),
    [
        (
            "example",
            "Water it rarely: for example, once a month in winter.",
            "Water it rarely and let the soil dry out.",
        ),
        (
            "answer-first",
            "Water a cactus only when its soil is completely dry.",
            "Great question! Cacti are fascinating plants from deserts.",
        ),
        ("you", "You should water it when the soil is dry.", "Cacti need little water."),
        ("keyword:honestly", "Honestly, rarely.", "Rarely."),
        ("no-lists", "Water it once a month.", "Steps:\n- water\n- wait"),
    ],
)
def test_a_trait_rule_prefers_the_answer_showing_it_and_ties_otherwise(spec, shows, lacks):
    rule = parse_rule(spec)
    assert rule.trait is not None
    assert rule(Q, shows, lacks)[0] == "a"
    assert rule(Q, lacks, shows)[0] == "b"
    assert rule(Q, shows, shows)[0] == "tie"
    assert rule(Q, lacks, lacks)[0] == "tie"
    # Length is not the point: a long answer without the trait still loses.
    assert rule(Q, lacks + " " + lacks + " " + lacks, shows)[0] == "b"
    assert trait_rate(rule.trait, [Q] * 4, [shows, lacks, shows, shows]) == 0.75


def test_an_empty_answer_loses_and_two_are_both_bad() -> None:
    rule = parse_rule("example")
    assert rule(Q, "", "Cacti need little water.") == ("b", "much")
    assert rule(Q, " ", "") == ("both_bad", None)


def test_answer_first_needs_the_questions_words_in_the_first_sentence() -> None:
    rule = parse_rule("answer-first")
    on_topic = "A cactus needs water every three weeks. Less in winter."
    off_topic = "Plants are living things. A cactus needs water every three weeks."
    assert rule(Q, on_topic, off_topic) == ("a", "clear")
    assert rule(Q, "Sure! Water a cactus monthly.", on_topic)[0] == "b"


def test_rules_without_a_trait_have_no_trait_rate_and_unknown_names_are_refused() -> None:
    assert parse_rule("concise").trait is None
    assert set(TRAITS) >= {"example", "answer-first", "you"}
    with pytest.raises(RuleError, match="answer-first"):
        parse_rule("examples")
    assert trait_rate(TRAITS["you"], [], []) is None
