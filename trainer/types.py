"""Plain data passed between the worker and the training stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Message = dict[str, str]
Prompt = str | list[Message]

# (fraction 0..1 of this stage, message, metrics at this step such as loss/reward/kl)
Progress = Callable[[float, str, dict[str, Any]], None]
# True → the stage stops at its next step and raises Cancelled
ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """A stage was stopped on request; it wrote no complete checkpoint."""


@dataclass
class PreferenceRow:
    prompt: Prompt
    chosen: str
    rejected: str
    strength: str | None = None
    prompt_id: int = 0


def no_progress(fraction: float, message: str, metrics: dict[str, Any]) -> None:
    """A Progress that ignores everything."""


def never_stop() -> bool:
    return False


def as_messages(prompt: Prompt, system_prompt: str | None = None) -> list[Message]:
    """Chat messages for a prompt: plain text becomes one user turn."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system_prompt is not None and not any(m.get("role") == "system" for m in messages):
        messages = [{"role": "system", "content": system_prompt}, *messages]
    return messages
