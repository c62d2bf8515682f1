"""The simulated evaluator's mind: the hidden rule, noise, and the mapping to screen sides."""

from __future__ import annotations

import random
from dataclasses import dataclass

from app.simulate.rules import Decision, Rule

TO_SCREEN = {"a": "left", "b": "right", "tie": "tie", "both_bad": "both_bad"}


def flip(decision: Decision, rng: random.Random) -> Decision:
    """A wrong answer: a winner swaps sides; a tie or both-bad becomes a random winner."""
    choice, strength = decision
    if choice == "a":
        return "b", strength
    if choice == "b":
        return "a", strength
    return rng.choice(("a", "b")), "slight"


@dataclass
class Mind:
    """Judges what it is shown with a hidden rule, answering wrongly with probability `noise`."""

    rule: Rule
    noise: float
    rng: random.Random
    flipped: int = 0

    def decide(self, prompt: str, left: str, right: str) -> Decision:
        """The screen-side answer (left/right/tie/both_bad) and a strength."""
        decision = self.rule(prompt, left, right)
        if self.noise > 0 and self.rng.random() < self.noise:
            decision = flip(decision, self.rng)
            self.flipped += 1
        choice, strength = decision
        return TO_SCREEN[choice], strength
