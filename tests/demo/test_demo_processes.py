"""`pairwise demo` runs web, sampler and trainer as three processes; SIGINT stops all three;
a second start resumes (a run queued meanwhile is claimed by the new trainer)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from sqlalchemy import func, select

from app.db import make_engine, make_sessionmaker, transaction
from app.domain import jobs
from app.models import Pair, TrainingRun, WorkerHeartbeat
from app.settings import Settings
from tests.demo.running import NAMES, Demo, alive, free_port
from tests.faults.procs import healthy, wait_for


def test_demo_runs_three_processes_stops_them_on_sigint_and_resumes(
    demo_env: dict[str, str], tmp_path: Path, started: list[Demo]
) -> None:
    port = free_port()
    first = Demo(demo_env, tmp_path / "demo-1.log", port)
    started.append(first)
    pids = first.wait_started()
    assert set(pids) == set(NAMES) and all(alive(p) for p in pids.values()), first.output()
    assert healthy(first.url)
    text = first.output()
    assert "Admin login: admin / " in text and "/training/runs" in text and "logs" in text

    settings = Settings(data_dir=Path(demo_env["DATA_DIR"]))  # type: ignore[call-arg]
    engine = make_engine(settings.resolved_database_url)
    factory = make_sessionmaker(engine)

    def pairs_made() -> bool:
        with transaction(factory) as db:
            return bool(db.scalar(select(func.count(Pair.id))))

    def trainer_beating() -> bool:
        with transaction(factory) as db:
            beat = select(WorkerHeartbeat.id).where(WorkerHeartbeat.kind == "trainer")
            return db.scalar(beat) is not None

    # The sampler process fills the buffer; the trainer process heartbeats while idle.
    assert wait_for(pairs_made, 180, every=0.5), (tmp_path / "data/logs/sampler.log").read_text()
    assert wait_for(trainer_beating, 60, every=0.5)

    first.popen.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    assert first.popen.wait(timeout=120) == 0, first.output()[-3000:]
    assert not any(alive(p) for p in pids.values())
    assert "Stopped: web (clean), sampler (clean), trainer (clean)" in first.output()

    # Queued while nothing runs: the next start's trainer picks it up.
    with transaction(factory) as db:
        project_id = db.scalar(select(Pair.project_id).limit(1))
        assert project_id is not None
        run_id = jobs.enqueue(db, settings, project_id, recipe="tiny").id

    second = Demo(demo_env, tmp_path / "demo-2.log", port)
    started.append(second)
    again = second.wait_started()
    assert "printed on the first run" in second.output()

    def claimed() -> bool:
        with transaction(factory) as db:
            run = db.get(TrainingRun, run_id)
            return run is not None and run.status != "queued"

    assert wait_for(claimed, 120, every=0.5), (tmp_path / "data/logs/trainer.log").read_text()
    os.kill(second.popen.pid, signal.SIGTERM)
    assert second.popen.wait(timeout=120) == 0, second.output()[-3000:]
    assert not any(alive(p) for p in again.values())
    engine.dispose()
