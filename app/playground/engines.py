"""The models behind the playground in the web process: a few versions kept loaded, and a
client per external model.

Versions are loaded through the sampler's own backends (`app.sampling.factory`), so a
version answers here exactly as it does for the labelling queue; at most
PLAYGROUND_LOADED_VERSIONS stay loaded, the least recently used one unloaded first. One
backend answers one stream at a time (its lock).

Where versions are served by vLLM with runtime adapters (`manages_adapters`), a version the
sampler does not serve now (an old one, a rival) is loaded into the server before it is asked
for, without unloading anything (`Serving.sync(..., unload=False)`); the sampler keeps it
loaded for PLAYGROUND_SERVE_MINUTES after the match started (`versions_to_serve`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from app.domain.serving import Serving, manages_adapters
from app.domain.store import ModelStore
from app.domain.versions import VersionRef
from app.playground.service import Contestant
from app.sampling.backend import StreamingBackend
from app.sampling.factory import make_backend
from app.sampling.openai_backend import OpenAIBackend
from app.settings import PlaygroundModel, Settings


@dataclass
class _Loaded:
    backend: StreamingBackend
    lock: threading.Lock = field(default_factory=threading.Lock)


class Engines:
    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore(settings.resolved_model_dir)
        self.loaded: OrderedDict[int, _Loaded] = OrderedDict()
        self.lock = threading.Lock()
        self.serving: Serving | None = None

    @contextmanager
    def backend(self, contestant: Contestant) -> Iterator[StreamingBackend]:
        """A backend ready to answer for `contestant`, held for this caller alone."""
        if contestant.model is not None:
            client = external_backend(self.settings, contestant.model)
            try:
                yield client
            finally:
                client.close()
            return
        version = contestant.version
        if version is None:
            raise LookupError("this contestant's version no longer exists")
        self._serve(version)
        with self.lock:
            entry = self.loaded.get(version.id)
            if entry is None:
                backend = cast(StreamingBackend, make_backend(self.settings, self.store))
                backend.load(version)
                entry = self.loaded[version.id] = _Loaded(backend)
            self.loaded.move_to_end(version.id)
            self._evict(keep=version.id)
        with entry.lock:
            yield entry.backend

    def _serve(self, version: VersionRef) -> None:
        """Load `version` into its OpenAI-compatible server if it is not listed there yet
        (ServingError, naming what to set or start, if it cannot be)."""
        if not manages_adapters(self.settings):
            return
        with self.lock:
            if self.serving is None:
                self.serving = Serving(self.settings, self.store)
            serving = self.serving
        serving.sync(version.project_id, [version], unload=False)

    def _evict(self, keep: int) -> None:
        """Unload the least recently used versions beyond the limit (not those answering)."""
        for version_id in list(self.loaded):
            if len(self.loaded) <= self.settings.playground_loaded_versions:
                return
            entry = self.loaded[version_id]
            if version_id != keep and entry.lock.acquire(blocking=False):
                try:
                    del self.loaded[version_id]
                    entry.backend.close()
                finally:
                    entry.lock.release()

    def close(self) -> None:
        with self.lock:
            for entry in self.loaded.values():
                entry.backend.close()
            self.loaded.clear()
            if self.serving is not None:
                self.serving.close()
                self.serving = None


def external_backend(settings: Settings, model: PlaygroundModel) -> OpenAIBackend:
    """The openai backend pointed at one of PLAYGROUND_MODELS (chat API, its own key)."""
    pointed = settings.model_copy(
        update={
            "openai_base_url": model.base_url,
            "openai_model": model.model,
            "openai_api_key": model.api_key,
            "openai_api": "chat",
        }
    )
    return OpenAIBackend(pointed)


_CREATE = threading.Lock()


def engines_of(state: Any) -> Engines:
    """The app's engines, created on first use (the app's shutdown unloads them)."""
    with _CREATE:
        engines: Engines | None = getattr(state, "playground_engines", None)
        if engines is None:
            engines = state.playground_engines = Engines(state.settings)
        return engines


def install(app: Any) -> None:
    """Unload the playground's models when the app stops."""

    def stop(app: Any) -> None:
        engines: Engines | None = getattr(app.state, "playground_engines", None)
        if engines is not None:
            engines.close()

    app.state.shutdown_hooks.append(stop)
