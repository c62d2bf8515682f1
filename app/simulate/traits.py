"""Content traits: properties of one answer that a hidden rule can prefer, length aside.

A trait is a predicate of (prompt, response). `trait_rule` turns one into a judging rule
(the answer showing it wins clearly; equal answers tie), and the same predicate gives the
*trait rate* a benchmark reports: the share of a version's answers that show it. New
traits are plain functions added to `TRAITS`; `parse_rule` finds them there by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from app.domain.answers import list_lines
from app.simulate.decision import Decision, RuleFn

__all__ = [
    "TRAITS",
    "TraitFn",
    "addresses_reader",
    "answers_first",
    "gives_example",
    "keyword_trait",
    "prose_trait",
    "trait_rate",
    "trait_rule",
]

TraitFn = Callable[[str, str], bool]  # (prompt, response) -> shows the property

_EXAMPLE = re.compile(
    r"\b(?:for example|for instance|e\.g\.|an example|example:|such as|imagine)", re.IGNORECASE
)
_YOU = re.compile(r"\b(?:you|your|yours|yourself|you're|you'll|you've)\b", re.IGNORECASE)
# Openers that put off the answer: pleasantries, praise of the question, announcements.
_PREAMBLE = re.compile(
    r"^\W*(?:sure|certainly|of course|absolutely|great|good|what a|hello|hi\b|hey|okay|ok\b|"
    r"well\b|ah\b|oh\b|thank|i'd be|i would be|i'm happy|i am happy|i can help|as an ai|"
    r"here (?:is|are)|here's|let me|let's|that's a|this is a)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z][a-z'-]{3,}")
_STOPWORDS = frozenset(
    [
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "would",
        "could",
        "should",
        "about",
        "that",
        "this",
        "there",
        "their",
        "them",
        "they",
        "have",
        "from",
        "your",
        "into",
        "than",
        "then",
        "some",
        "more",
        "most",
        "much",
        "many",
        "very",
        "also",
        "just",
        "like",
        "make",
        "does",
        "give",
        "tell",
        "explain",
        "best",
        "good",
        "ways",
        "know",
        "want",
        "need",
        "help",
        "please",
    ]
)


def first_sentence(response: str) -> str:
    """The response up to its first sentence end or line break."""
    return _SENTENCE_END.split(response.strip(), maxsplit=1)[0]


def _content_words(text: str) -> set[str]:
    return {w.removesuffix("'s") for w in _WORD.findall(text.lower())} - _STOPWORDS


def gives_example(prompt: str, response: str) -> bool:
    """The answer illustrates with an example ("for example", "such as", "e.g." ...)."""
    return bool(_EXAMPLE.search(response))


def addresses_reader(prompt: str, response: str) -> bool:
    """The answer speaks to the reader as "you" (or "your", "yourself" ...)."""
    return bool(_YOU.search(response))


def answers_first(prompt: str, response: str) -> bool:
    """The first sentence is the answer: no preamble, and it takes up the question's words."""
    first = first_sentence(response)
    if not first or _PREAMBLE.match(first):
        return False
    asked = _content_words(prompt)
    return not asked or bool(asked & _content_words(first))


def keyword_trait(pattern: re.Pattern[str]) -> TraitFn:
    """The answer uses the keyword at least once."""
    return lambda prompt, response: bool(pattern.search(response))


def prose_trait(prompt: str, response: str) -> bool:
    """A non-empty answer with no bullet or numbered list line."""
    return bool(response.strip()) and list_lines(response) == 0


TRAITS: dict[str, TraitFn] = {
    "example": gives_example,
    "answer-first": answers_first,
    "you": addresses_reader,
}


def trait_rule(trait: TraitFn) -> RuleFn:
    """Prefer the answer that shows the trait (clearly); an empty answer loses to any other."""

    def rule(prompt: str, response_a: str, response_b: str) -> Decision:
        empty_a, empty_b = not response_a.strip(), not response_b.strip()
        if empty_a and empty_b:
            return "both_bad", None
        if empty_a != empty_b:
            return ("b" if empty_a else "a"), "much"
        has_a, has_b = trait(prompt, response_a), trait(prompt, response_b)
        if has_a == has_b:
            return "tie", None
        return ("a" if has_a else "b"), "clear"

    return rule


def trait_rate(trait: TraitFn, prompts: Sequence[str], responses: Sequence[str]) -> float | None:
    """Share of responses[k] (to prompts[k]) that show the trait; None for none."""
    if len(prompts) != len(responses):
        raise ValueError("prompts and responses must have the same length")
    if not responses:
        return None
    return sum(trait(p, r) for p, r in zip(prompts, responses, strict=True)) / len(responses)
