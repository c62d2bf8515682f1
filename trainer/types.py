"""Plain data passed between the worker and the training stages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

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


class Progress(Protocol):
    """What a stage reports: fraction 0..1 of the stage, a message, metrics at this point
    (loss/reward/kl…) and, from a training loop, the trainer's global step they belong to."""

    def __call__(
        self, fraction: float, message: str, metrics: dict[str, Any], step: int | None = None
    ) -> None: ...


# True → the stage stops at its next step and raises Cancelled
ShouldStop = Callable[[], bool]


class Cancelled(Exception):
    """A stage was stopped on request; it wrote no complete checkpoint."""


def no_progress(
    fraction: float, message: str, metrics: dict[str, Any], step: int | None = None
) -> None:
    """A Progress that ignores everything."""


def never_stop() -> bool:
    return False
