"""The sampler as a thread of the web app and as `pairwise worker sample` (SIGTERM stops it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import make_sessionmaker, transaction
from app.main import create_app
from app.models import WorkerHeartbeat
from app.projects.service import ensure_default_project
from tests.conftest import fresh_engine
from tests.factories import make_prompt
from tests.factories.sampling import open_pairs, sampler_settings

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_web_process_runs_the_sampler_in_a_thread(tmp_path: Path, tiny_policy_dir: Path) -> None:
    engine = fresh_engine("sqlite", tmp_path)
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, str(tiny_policy_dir))
        make_prompt(db, project, "Why is the sky blue?")
    settings = sampler_settings(
        tmp_path, sampler_enabled=True, pair_buffer=2, pair_low_water=1, max_new_tokens=4
    )
    app = create_app(settings, engine)

    def depth() -> int:
        with transaction(factory) as db:
            return open_pairs(db, project.id)

    with TestClient(app) as client:
        started = time.monotonic()
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 5  # start-up does not wait for the model
        assert _wait_for(lambda: depth() == 2, 90), "the embedded sampler filled no pairs"
        thread = app.state.sampler_thread
    assert not thread.is_alive()  # stopped with the app
    with transaction(factory) as db:
        assert db.scalar(select(WorkerHeartbeat)) is None
    engine.dispose()


def test_worker_command_fills_and_stops_on_sigterm(tmp_path: Path, tiny_policy_dir: Path) -> None:
    engine = fresh_engine("sqlite", tmp_path)
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        project = ensure_default_project(db, str(tiny_policy_dir))
        make_prompt(db, project, "Name three rivers.")
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "SECRET_KEY": "t" * 48,
        "PAIRWISE_ENV": "test",
        "PAIR_BUFFER": "2",
        "PAIR_LOW_WATER": "1",
        "MAX_NEW_TOKENS": "4",
        "SAMPLE_BATCH_SIZE": "4",
        "TORCH_THREADS": "1",
        "SAMPLER_POLL_SECONDS": "0.5",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "sample", "--project", "default"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def filled() -> bool:
            with transaction(factory) as db:
                return (
                    open_pairs(db, project.id) == 2
                    and db.scalar(select(WorkerHeartbeat)) is not None
                )

        assert _wait_for(filled, 120), "the worker filled no pairs"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "stopping" in out and "pairs made" in out
    with transaction(factory) as db:
        assert db.scalar(select(WorkerHeartbeat)) is None
    engine.dispose()
