"""What an answer looks like on its face: complete or cut off, list lines.

One home for the checks the simulated evaluators' rules and the trainer's promotion gates
share (a candidate whose answers stop being complete is refused however well it scores).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["adequate", "adequate_share", "list_lines"]

# A response that stops on one of these ended a sentence or a block rather than being
# cut off by the token limit.
_CLEAN_END = re.compile(r"""[.!?…:;)\]}"'`*>]\s*$""")
# A short fragment ("Paris", "42") is a complete answer even without punctuation.
_SHORT_ANSWER_WORDS = 12
_LIST_LINE = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+\S", re.MULTILINE)


def adequate(response: str) -> bool:
    """Non-empty and not cut off mid-sentence (clean ending, or a short complete fragment)."""
    text = response.strip()
    if not any(c.isalnum() for c in text):
        return False
    return bool(_CLEAN_END.search(text)) or len(text.split()) <= _SHORT_ANSWER_WORDS


def adequate_share(responses: Iterable[str]) -> float | None:
    """Share of responses that are adequate (None for no responses)."""
    flags = [adequate(r) for r in responses]
    return sum(flags) / len(flags) if flags else None


def list_lines(response: str) -> int:
    """How many lines of a response are bullet or numbered list items."""
    return len(_LIST_LINE.findall(response))
