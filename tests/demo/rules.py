"""A hidden rule for tiny random models, whose 8-token answers are often the same length (so
`concise` calls a third of them ties, which teach nothing): the shorter answer wins, and
between equally long ones the one that sorts first. Never a tie, so every label trains."""

from __future__ import annotations


def decisive(prompt: str, response_a: str, response_b: str) -> tuple[str, str | None]:
    a, b = response_a.strip(), response_b.strip()
    return ("a" if (len(a), a) < (len(b), b) else "b"), "clear"
