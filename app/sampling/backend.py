"""What a sampling backend takes and returns, and how one is chosen from the settings."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain.versions import VersionRef
from app.vocabulary import FinishReason


@dataclass(frozen=True)
class SampleRequest:
    """One sequence to generate: a prompt (plain text or chat turns) and its seed."""

    prompt_id: int
    text: str
    messages: list[dict[str, Any]] | None
    seed: int


@dataclass
class Sample:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seed: int
    finish_reason: FinishReason  # "length": cut off by the token limit
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Model output can decode to NUL characters, which Postgres text refuses.
        self.text = self.text.replace("\x00", "")


class Backend(Protocol):
    """Generates completions for one policy version; `load` is called again on a new version."""

    name: str

    def load(self, version: VersionRef) -> None: ...

    def generate(self, requests: list[SampleRequest]) -> list[Sample]: ...

    def close(self) -> None: ...


class StreamingBackend(Backend, Protocol):
    """A backend that can also hand out one sequence as it is generated (the playground)."""

    def stream(self, request: SampleRequest) -> Iterator[str | Sample]:
        """Text as it is generated, piece by piece (`str`), then the whole `Sample` last."""
        ...


def new_seed() -> int:
    """A seed that differs between concurrent samplers (not from a shared random state)."""
    return secrets.randbits(31)
