"""What a simulated evaluator's rule answers, shared by every rule implementation."""

from __future__ import annotations

from collections.abc import Callable

from app.vocabulary import CHOICES, STRENGTHS

__all__ = ["CHOICES", "STRENGTHS", "Decision", "RuleError", "RuleFn"]

Decision = tuple[str, str | None]  # (choice, strength or None)
RuleFn = Callable[[str, str, str], Decision]  # (prompt, response_a, response_b) -> Decision


class RuleError(ValueError):
    """A rule string that cannot be used, or a rule that answered something invalid."""
