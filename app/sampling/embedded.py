"""The sampler inside the web process: a background thread started and stopped with the app."""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI

from app.sampling.worker import Sampler

log = logging.getLogger(__name__)

JOIN_SECONDS = 30.0


def install(app: FastAPI) -> None:
    """Start the sampler thread when the app starts and stop it when the app stops."""
    app.state.startup_hooks.append(_start)
    app.state.shutdown_hooks.append(_stop)


def _start(app: FastAPI) -> None:
    # The thread does everything slow (converting version 0, loading, generating), so
    # start-up returns at once and requests are served meanwhile.
    sampler = Sampler(app.state.sessionmaker, app.state.settings)
    thread = threading.Thread(target=sampler.run, name="pairwise-sampler", daemon=True)
    app.state.sampler = sampler
    app.state.sampler_thread = thread
    thread.start()


def _stop(app: FastAPI) -> None:
    sampler: Sampler | None = getattr(app.state, "sampler", None)
    thread: threading.Thread | None = getattr(app.state, "sampler_thread", None)
    if sampler is None or thread is None:
        return
    sampler.stop.set()  # generation stops at the next token
    thread.join(JOIN_SECONDS)
    if thread.is_alive():
        log.warning("the sampler thread did not stop within %.0f s", JOIN_SECONDS)
