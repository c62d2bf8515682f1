"""Plain data passed between the worker and the training stages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.messages import Message, as_messages
from app.domain.messages import PromptValue as Prompt
from app.domain.preferences import PreferenceRow

__all__ = [
    "Cancelled",
    "Message",
    "PreferenceRow",
    "Progress",
    "Prompt",
    "ShouldStop",
    "as_messages",
    "never_stop",
    "no_progress",
]


# (fraction 0..1 of this stage, message, metrics at this step such as loss/reward/kl)
Progress = Callable[[float, str, dict[str, Any]], None]
# True → the stage stops at its next step and raises Cancelled
ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """A stage was stopped on request; it wrote no complete checkpoint."""


def no_progress(fraction: float, message: str, metrics: dict[str, Any]) -> None:
    """A Progress that ignores everything."""


def never_stop() -> bool:
    return False
