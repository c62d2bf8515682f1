"""Hidden judging rules: plain functions of (prompt, response A, response B) → (choice, strength).

A rule string names one: `concise`, `keyword:WORD`, `no-lists`, a content trait of
app/simulate/traits.py (`example`, `answer-first`, `you`), `judge:PATH` (a reward model scores
both) or `python:package.module:function` (any function of that shape). A rule built on a
trait carries it, so a benchmark measures the share of answers showing it with the same code.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from app.domain.answers import adequate, list_lines
from app.simulate.decision import CHOICES, STRENGTHS, Decision, RuleError, RuleFn
from app.simulate.traits import TRAITS, TraitFn, keyword_trait, prose_trait, trait_rule

__all__ = [
    "CHOICES",
    "STRENGTHS",
    "Decision",
    "Rule",
    "RuleError",
    "RuleFn",
    "adequate",
    "list_lines",
    "parse_rule",
]


@dataclass(frozen=True)
class Rule:
    """A named rule whose every answer is checked before it is used."""

    name: str
    fn: RuleFn
    trait: TraitFn | None = None  # the property it prefers, when it is one (trait rate)

    def __call__(self, prompt: str, response_a: str, response_b: str) -> Decision:
        result = self.fn(prompt, response_a, response_b)
        return check_decision(self.name, result)


def check_decision(name: str, result: object) -> Decision:
    """Validate a rule's answer; raise RuleError naming the rule and what was wrong."""
    if not isinstance(result, tuple) or len(result) != 2:
        raise RuleError(f"rule {name!r} must return (choice, strength), got {result!r}")
    choice, strength = result
    if choice not in CHOICES:
        raise RuleError(f"rule {name!r} returned choice {choice!r}; expected one of {CHOICES}")
    if strength is not None and strength not in STRENGTHS:
        raise RuleError(
            f"rule {name!r} returned strength {strength!r}; expected None or one of {STRENGTHS}"
        )
    if choice in ("tie", "both_bad"):
        strength = None  # the API refuses a strength without a winner
    return choice, strength


def _strength_by_ratio(ratio: float) -> str | None:
    if ratio < 1.1:
        return None  # within 10 %: no preference
    if ratio < 1.5:
        return "slight"
    if ratio < 2.5:
        return "clear"
    return "much"


def _winner(a_better: bool, strength: str) -> Decision:
    return ("a" if a_better else "b"), strength


def concise(prompt: str, response_a: str, response_b: str) -> Decision:
    """Prefer the shorter adequate answer; an inadequate one loses to any adequate one."""
    ok_a, ok_b = adequate(response_a), adequate(response_b)
    if not ok_a and not ok_b:
        return "both_bad", None
    if ok_a != ok_b:
        return _winner(ok_a, "much")
    len_a, len_b = len(response_a.strip()), len(response_b.strip())
    strength = _strength_by_ratio(max(len_a, len_b) / min(len_a, len_b))
    if strength is None:
        return "tie", None
    return _winner(len_a < len_b, strength)


def _empty_guard(response_a: str, response_b: str) -> Decision | None:
    empty_a, empty_b = not response_a.strip(), not response_b.strip()
    if empty_a and empty_b:
        return "both_bad", None
    if empty_a != empty_b:
        return _winner(empty_b, "much")
    return None


def _keyword_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)


def keyword(word: str) -> RuleFn:
    """Prefer the response that uses `word` (whole word, any case); more uses win slightly."""
    pattern = _keyword_pattern(word)

    def rule(prompt: str, response_a: str, response_b: str) -> Decision:
        guard = _empty_guard(response_a, response_b)
        if guard:
            return guard
        count_a, count_b = len(pattern.findall(response_a)), len(pattern.findall(response_b))
        if count_a == count_b:
            return "tie", None
        if min(count_a, count_b) == 0:
            return _winner(count_a > 0, "clear")
        return _winner(count_a > count_b, "slight")

    return rule


def no_lists(prompt: str, response_a: str, response_b: str) -> Decision:
    """Prefer prose: the response with fewer bullet/numbered list lines wins."""
    guard = _empty_guard(response_a, response_b)
    if guard:
        return guard
    lists_a, lists_b = list_lines(response_a), list_lines(response_b)
    if lists_a == lists_b:
        return "tie", None
    gap = abs(lists_a - lists_b)
    strength = "slight" if gap == 1 else "clear" if gap <= 3 else "much"
    return _winner(lists_a < lists_b, strength)


def load_python_rule(target: str) -> RuleFn:
    """Import `package.module:function` and check it takes (prompt, response_a, response_b)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RuleError(
            f"python rule must look like python:package.module:function, got {target!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuleError(f"python rule: cannot import module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise RuleError(f"python rule: module {module_name!r} has no attribute {attr!r}")
    if not callable(fn):
        raise RuleError(f"python rule: {target!r} is not a function")
    try:
        inspect.signature(fn).bind("prompt", "response_a", "response_b")
    except TypeError:
        raise RuleError(
            f"python rule: {target!r} must accept (prompt, response_a, response_b)"
        ) from None
    except ValueError:
        pass  # builtins without a signature: checked on the first call instead
    return fn  # type: ignore[no-any-return]


RULE_HELP = (
    f"concise | keyword:WORD | no-lists | {' | '.join(TRAITS)} | judge:PATH "
    "| python:package.module:function"
)


def parse_rule(spec: str, model_dir: Path | None = None) -> Rule:
    """The rule a string names; RuleError with the accepted forms for anything else.

    `model_dir` is the model store, against which a relative `judge:` path is resolved.
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind == "concise" and not arg:
        return Rule(spec, concise)
    if kind in ("no-lists", "no_lists") and not arg:
        return Rule("no-lists", no_lists, prose_trait)
    if kind in TRAITS and not arg:
        return Rule(kind, trait_rule(TRAITS[kind]), TRAITS[kind])
    if kind == "keyword":
        if not arg.strip():
            raise RuleError("keyword rule needs a word: keyword:WORD")
        word = arg.strip()
        return Rule(spec, keyword(word), keyword_trait(_keyword_pattern(word)))
    if kind == "judge":
        if not arg:
            raise RuleError("judge rule needs a reward model folder: judge:PATH")
        from app.simulate.judge import judge_rule

        return Rule(spec, judge_rule(arg, model_dir))
    if kind == "python":
        return Rule(spec, load_python_rule(arg))
    raise RuleError(f"unknown rule {spec!r}; use one of: {RULE_HELP}")
