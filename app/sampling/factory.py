"""The sampling backend named by SAMPLER_BACKEND (each backend imported only when chosen)."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.store import ModelStore
from app.sampling.backend import Backend
from app.settings import Settings

BackendFactory = Callable[[], Backend]


def make_backend(
    settings: Settings, store: ModelStore, should_stop: Callable[[], bool] | None = None
) -> Backend:
    """The backend named by SAMPLER_BACKEND."""
    if settings.sampler_backend == "openai":
        from app.sampling.openai_backend import OpenAIBackend

        return OpenAIBackend(settings, should_stop=should_stop, store=store)
    from app.sampling.transformers_backend import TransformersBackend

    return TransformersBackend(settings, store, should_stop=should_stop)
