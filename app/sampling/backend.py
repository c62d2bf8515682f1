"""What a sampling backend takes and returns, and how one is chosen from the settings."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.settings import Settings
from trainer.store import ModelStore


@dataclass(frozen=True)
class VersionRef:
    """The policy version to sample from, detached from any database session."""

    id: int
    project_id: int
    number: int
    checkpoint_uri: str


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


class StopRequested(Exception):
    """Generation was cut short because the worker is stopping."""


def new_seed() -> int:
    """A seed that differs between concurrent samplers (not from a shared random state)."""
    return secrets.randbits(31)


def chat_messages(text: str, messages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Chat prompts as they are; a plain-text prompt becomes one user turn."""
    if messages:
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return [{"role": "user", "content": text}]


BackendFactory = Callable[[], Backend]


def make_backend(
    settings: Settings, store: ModelStore, should_stop: Callable[[], bool] | None = None
) -> Backend:
    """The backend named by SAMPLER_BACKEND."""
    if settings.sampler_backend == "openai":
        from app.sampling.openai_backend import OpenAIBackend

        return OpenAIBackend(settings, should_stop=should_stop)
    from app.sampling.transformers_backend import TransformersBackend

    return TransformersBackend(settings, store, should_stop=should_stop)
