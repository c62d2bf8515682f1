"""A `pairwise worker sample` process killed (-9) or stopped (SIGTERM) while a batch is out.

The sampler talks to a stand-in OpenAI-compatible server that answers the first batch and
then holds the next one, so the signal lands while the sampler waits for completions.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from app.models import Completion, Pair, WorkerHeartbeat
from tests.factories import make_project, make_prompt, make_version
from tests.factories.sampling import open_pairs
from tests.faults.procs import Proc, Procs, base_env, wait_for
from tests.faults.standin import HoldingServer, holding_server

pytestmark = pytest.mark.faults

BUFFER = 4
FIRST_BATCH = 4  # SAMPLE_BATCH_SIZE sequences = 2 prompts = 2 pairs


def seed(engine: Engine) -> tuple[str, int]:
    with Session(engine) as db:
        project = make_project(db, name="sampled")
        make_version(db, project, 0, "policy/v0")
        for n in range(4):
            make_prompt(db, project, f"Name {n + 2} rivers.")
        db.commit()
        return project.name, project.id


def sampler_env(tmp: Path, url: str, server: HoldingServer) -> dict[str, str]:
    return base_env(
        tmp,
        url,
        SAMPLER_BACKEND="openai",
        OPENAI_BASE_URL=server.url,
        OPENAI_TIMEOUT_SECONDS="2",
        OPENAI_MANAGE_ADAPTERS="false",  # a plain completions server: no adapters, no /v1/models
        OPENAI_MAX_RETRIES="1",
        PAIR_BUFFER=str(BUFFER),
        PAIR_LOW_WATER="3",
        SAMPLE_BATCH_SIZE=str(FIRST_BATCH),
        SAMPLER_POLL_SECONDS="0.2",
    )


def state(engine: Engine, project_id: int) -> tuple[int, int, int]:
    """(open pairs, completions, completions that belong to no pair)."""
    with Session(engine) as db:
        used = select(Pair.id).where(
            or_(Pair.completion_a_id == Completion.id, Pair.completion_b_id == Completion.id)
        )
        completions = db.scalar(select(func.count(Completion.id))) or 0
        orphans = db.scalar(select(func.count(Completion.id)).where(~used.exists())) or 0
        return open_pairs(db, project_id), completions, orphans


def heartbeats(engine: Engine) -> list[str]:
    with Session(engine) as db:
        return list(db.scalars(select(WorkerHeartbeat.id).where(WorkerHeartbeat.kind == "sampler")))


def start_mid_batch(
    procs: Procs, env: dict[str, str], name: str, server: HoldingServer, engine: Engine, pid: int
) -> Proc:
    """A sampler that has stored its first batch and is waiting on the second."""
    proc = procs.start("sampler-a", ["worker", "sample", "--project", name], env)
    caught = wait_for(
        lambda: server.received > FIRST_BATCH and state(engine, pid)[0] == 2 or not proc.alive(),
        60,
    )
    assert caught and proc.alive(), f"the sampler never got to its second batch:\n{proc.output()}"
    return proc


def test_kill_9_mid_batch_leaves_no_orphans_and_no_overfill(
    fault_db: tuple[str, Engine], procs: Procs, tmp_path: Path
) -> None:
    url, engine = fault_db
    name, project_id = seed(engine)
    with holding_server(answer_first=FIRST_BATCH) as server:
        env = sampler_env(tmp_path, url, server)
        start_mid_batch(procs, env, name, server, engine, project_id).kill9()
        # The held batch is simply gone: no half-written pair, no completion without a pair.
        assert state(engine, project_id) == (2, 4, 0)
        assert len(heartbeats(engine)) == 1  # the dead worker's last beat (it shows as silent)

        server.release.set()
        # Two fresh samplers refill at once; together they fill the buffer exactly.
        others = [
            procs.start(f"sampler-{n}", ["worker", "sample", "--project", name, "--once"], env)
            for n in ("b", "c")
        ]
        for proc in others:
            assert proc.wait(timeout=60) == 0, proc.output()
    assert state(engine, project_id) == (BUFFER, 2 * BUFFER, 0)
    with Session(engine) as db:
        versions = set(db.scalars(select(Pair.policy_version_id).where(Pair.status == "open")))
    assert len(versions) == 1


def test_sigterm_mid_batch_stops_cleanly_even_if_the_model_server_hangs(
    fault_db: tuple[str, Engine], procs: Procs, tmp_path: Path
) -> None:
    url, engine = fault_db
    name, project_id = seed(engine)
    with holding_server(answer_first=FIRST_BATCH) as server:
        proc = start_mid_batch(
            procs, sampler_env(tmp_path, url, server), name, server, engine, project_id
        )
        assert heartbeats(engine) != []
        proc.signal(signal.SIGTERM)  # the held requests are never answered
        assert proc.wait(timeout=30) == 0, proc.output()
    out = proc.output()
    assert "received SIGTERM; stopping" in out and "2 pairs made" in out, out
    assert heartbeats(engine) == []  # a clean stop removes the worker's heartbeat
    assert state(engine, project_id) == (2, 4, 0)
