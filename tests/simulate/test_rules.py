"""Each hidden rule's decisions on hand-made examples, the parser, and python: rule loading."""

from __future__ import annotations

import random
import sys
import textwrap
from pathlib import Path

import pytest

from app.simulate.noise import Mind
from app.simulate.rules import RuleError, adequate, list_lines, parse_rule

SHORT = "Paris is the capital of France."
LONG = (
    "The capital of France is Paris, which has been the seat of government for centuries "
    "and is also the largest city in the country."
)
CUT = "The capital of France is Paris, which has been the seat of government for cent"


def test_adequate_means_non_empty_and_not_cut_off() -> None:
    assert adequate(SHORT)
    assert adequate("Paris")  # a short fragment is a complete answer
    assert adequate("- one\n- two\n- three.")
    assert not adequate("")
    assert not adequate("   \n ")
    assert not adequate("...")
    assert not adequate(CUT)  # long and stopping mid-word: the token limit cut it


def test_concise_prefers_the_shorter_adequate_answer_with_strength_by_ratio() -> None:
    rule = parse_rule("concise")
    assert rule("q", SHORT, LONG) == ("a", "much")  # ~4x longer
    assert rule("q", LONG, SHORT) == ("b", "much")
    assert rule("q", "Paris is big.", "Paris is big and very old.") == ("a", "clear")  # 2.0
    assert rule("q", "Paris is big.", "Paris is big, old.") == ("a", "slight")  # 1.38
    assert rule("q", "It is Paris, France.", "It is Paris in France.") == ("a", "slight")
    assert rule("q", "It is Paris.", "It is Rome.") == ("tie", None)  # within 10 %
    # A truncated answer loses even when shorter is not what it is.
    assert rule("q", CUT, LONG) == ("b", "much")
    assert rule("q", "", SHORT) == ("b", "much")
    assert rule("q", "", CUT) == ("both_bad", None)


def test_keyword_prefers_the_response_using_the_word() -> None:
    rule = parse_rule("keyword:banana")
    assert rule("q", "I like a Banana.", "I like apples.") == ("a", "clear")
    assert rule("q", "I like apples.", "banana!") == ("b", "clear")
    assert rule("q", "bananas are good", "apples") == ("tie", None)  # whole word only
    assert rule("q", "banana banana", "banana") == ("a", "slight")
    assert rule("q", "banana", "banana") == ("tie", None)
    assert rule("q", "", "apples") == ("b", "much")


def test_no_lists_prefers_prose() -> None:
    prose = "Water boils at 100 degrees at sea level; lower on mountains."
    bullets = "Facts:\n- boils at 100\n- lower on mountains\n* depends on pressure"
    numbered = "1. boil\n2) cool"
    assert list_lines(bullets) == 3
    assert list_lines(numbered) == 2
    assert list_lines("A sentence - with a dash. And 3.5 numbers.") == 0
    rule = parse_rule("no-lists")
    assert rule("q", prose, bullets) == ("a", "clear")
    assert rule("q", numbered, prose) == ("b", "clear")
    assert rule("q", "- one\n" * 6, "- one") == ("b", "much")
    assert rule("q", prose, prose + " More.") == ("tie", None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("shortest", "unknown rule 'shortest'"),
        ("keyword:", "keyword rule needs a word"),
        ("judge:", "judge rule needs a reward model folder"),
        ("python:nomodule", "must look like python:package.module:function"),
        ("python:no_such_pkg_xyz.mod:fn", "cannot import module 'no_such_pkg_xyz.mod'"),
        ("python:json:no_such_function", "module 'json' has no attribute 'no_such_function'"),
        ("python:json:__doc__", "is not a function"),
    ],
)
def test_parse_rule_errors_are_clear(spec: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rule(spec)


@pytest.fixture
def rule_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pkg = tmp_path / "myrules"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "prefs.py").write_text(
        textwrap.dedent(
            """
            def shouty(prompt, response_a, response_b):
                a, b = response_a.count("!"), response_b.count("!")
                if a == b:
                    return "tie", "much"
                return ("a" if a > b else "b"), "clear"

            def two_args(prompt, response):
                return "a", None

            def bad_choice(prompt, response_a, response_b):
                return "left", None

            def bad_shape(prompt, response_a, response_b):
                return "a"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "myrules.prefs"
    for name in ("myrules", "myrules.prefs"):
        sys.modules.pop(name, None)


def test_python_rule_is_loaded_at_run_time(rule_module: str) -> None:
    rule = parse_rule(f"python:{rule_module}:shouty")
    assert rule("q", "yes!!", "yes") == ("a", "clear")
    assert rule("q", "yes", "yes!") == ("b", "clear")
    assert rule("q", "yes", "no") == ("tie", None)  # a strength without a winner is dropped


def test_python_rule_with_wrong_signature_or_answers_is_refused(rule_module: str) -> None:
    with pytest.raises(RuleError, match=r"must accept \(prompt, response_a, response_b\)"):
        parse_rule(f"python:{rule_module}:two_args")
    with pytest.raises(RuleError, match="returned choice 'left'"):
        parse_rule(f"python:{rule_module}:bad_choice")("q", "a", "b")
    with pytest.raises(RuleError, match=r"must return \(choice, strength\)"):
        parse_rule(f"python:{rule_module}:bad_shape")("q", "a", "b")


def test_noise_flips_about_the_given_share_reproducibly() -> None:
    rule = parse_rule("concise")
    answers = []
    for seed in (1, 1, 2):
        mind = Mind(rule, noise=0.2, rng=random.Random(seed))
        answers.append([mind.decide("q", SHORT, LONG)[0] for _ in range(2000)])
        share = mind.flipped / 2000
        assert 0.17 < share < 0.23, share
        assert answers[-1].count("right") == mind.flipped  # every flip turned left into right
    assert answers[0] == answers[1]  # same seed, same answers
    assert answers[0] != answers[2]


def test_without_noise_the_rule_decides_in_screen_terms() -> None:
    mind = Mind(parse_rule("concise"), noise=0.0, rng=random.Random(0))
    assert mind.decide("q", SHORT, LONG) == ("left", "much")
    assert mind.decide("q", LONG, SHORT) == ("right", "much")
    assert mind.decide("q", "", "") == ("both_bad", None)
    assert mind.flipped == 0
