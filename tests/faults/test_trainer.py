"""`pairwise worker train` killed (-9), stopped (SIGTERM) or out of disk in the middle of a run."""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_api_token
from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.main import create_app
from app.models import PolicyVersion, Project, RewardModel, TrainingRun, utcnow
from app.settings import Settings
from tests.factories import make_evaluator, make_pair
from tests.faults.procs import Proc, Procs, base_env, wait_for
from tests.training_runs.test_worker import seed, tiny_overrides

pytestmark = pytest.mark.faults

LEASE_SECONDS = 5


def trainer_settings(tmp: Path, url: str) -> Settings:
    return Settings(
        pairwise_env="test",
        data_dir=tmp,
        secret_key="f" * 48,
        database_url=url,
        training_lease_seconds=LEASE_SECONDS,
        sampler_enabled=False,
    )  # type: ignore[call-arg]


def queue_run(
    factory: sessionmaker[Session], settings: Settings, policy: Path, reward: Path
) -> tuple[int, int]:
    """A project with version 0 and labels, and one full run queued: (project id, run id)."""
    project_id = seed(factory, settings, policy)
    with transaction(factory) as db:
        # Random tiny models barely move in one step: open the reward-gain gate.
        config = tiny_overrides(reward, **{"gates.min_reward_gain": -1e9})
        run = jobs.enqueue(db, settings, project_id, recipe="tiny", config=config)
        return project_id, run.id


def trainer(
    procs: Procs, name: str, tmp: Path, url: str, preexec: Callable[[], None] | None = None
) -> Proc:
    """`pairwise worker train --once` on the test's store and database."""
    env = base_env(tmp, url, TRAINING_LEASE_SECONDS=str(LEASE_SECONDS), PYTHONDONTWRITEBYTECODE="1")
    return procs.start(name, ["worker", "train", "--once"], env, preexec=preexec)


def get_run(factory: sessionmaker[Session], run_id: int) -> TrainingRun:
    with transaction(factory) as db:
        run = db.get(TrainingRun, run_id)
        assert run is not None
        return run


def wait_for_stage(
    factory: sessionmaker[Session], run_id: int, proc: Proc, stages: tuple[str, ...]
) -> None:
    def there() -> bool:
        run = get_run(factory, run_id)
        return (run.status == "running" and run.stage in stages) or not proc.alive()

    assert wait_for(there, 180, every=0.1) and proc.alive(), (
        f"the trainer never reached {stages}:\n{proc.output()[-3000:]}"
    )


def staging_leftovers(settings: Settings) -> list[Path]:
    return [p for p in settings.resolved_model_dir.rglob("*") if p.name.endswith(".tmp")]


def versions_of(factory: sessionmaker[Session], project_id: int) -> list[tuple[int, str]]:
    with transaction(factory) as db:
        rows = db.execute(
            select(PolicyVersion.number, PolicyVersion.status)
            .where(PolicyVersion.project_id == project_id)
            .order_by(PolicyVersion.number)
        )
        return [(n, s) for n, s in rows]


def test_kill_9_mid_run_then_a_fresh_trainer_retries_and_registers_once(
    fault_db: tuple[str, Engine],
    procs: Procs,
    tmp_path: Path,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
) -> None:
    url, engine = fault_db
    settings = trainer_settings(tmp_path, url)
    factory = make_sessionmaker(engine)
    project_id, run_id = queue_run(factory, settings, tiny_policy_dir, tiny_reward_dir)

    first = trainer(procs, "trainer-a", tmp_path, url)
    wait_for_stage(factory, run_id, first, ("reward", "policy"))
    first.kill9()

    dead = get_run(factory, run_id)
    assert dead.status == "running" and dead.attempts == 1 and dead.lease_expires_at is not None
    with transaction(factory) as db:  # nobody may take it while the dead trainer's lease holds
        assert jobs.claim(db, settings, "too-early") is None
    assert wait_for(lambda: utcnow() > dead.lease_expires_at, LEASE_SECONDS + 5)

    second = trainer(procs, "trainer-b", tmp_path, url)
    assert second.wait(timeout=180) == 0, second.output()[-3000:]
    run = get_run(factory, run_id)
    assert run.status == "succeeded", (run.error, second.output()[-2000:])
    assert run.attempts == 2 and run.lease_token is None
    assert run.lease_owner is not None and run.lease_owner != dead.lease_owner
    assert versions_of(factory, project_id) == [(0, "archived"), (1, "active")]
    with transaction(factory) as db:
        registered = select(func.count()).select_from(PolicyVersion)
        assert db.scalar(registered.where(PolicyVersion.training_run_id == run_id)) == 1
        assert db.scalar(select(func.count()).select_from(RewardModel)) == 1
    # The dead trainer's half-written checkpoints do not stay behind in the store.
    assert staging_leftovers(settings) == []


def test_sigterm_mid_run_releases_the_run_at_once(
    fault_db: tuple[str, Engine],
    procs: Procs,
    tmp_path: Path,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
) -> None:
    url, engine = fault_db
    settings = trainer_settings(tmp_path, url)
    factory = make_sessionmaker(engine)
    project_id, run_id = queue_run(factory, settings, tiny_policy_dir, tiny_reward_dir)

    proc = trainer(procs, "trainer", tmp_path, url)
    wait_for_stage(factory, run_id, proc, ("reward", "policy"))
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0, proc.output()[-3000:]

    run = get_run(factory, run_id)
    assert run.status == "queued" and run.attempts == 1, (run.status, run.error)
    assert run.lease_token is None and run.lease_owner is None and run.lease_expires_at is None
    assert versions_of(factory, project_id) == [(0, "active")]
    with transaction(factory) as db:
        assert db.scalar(select(RewardModel)) is None
    assert staging_leftovers(settings) == []
    # Released, not abandoned: the next trainer takes it now, without waiting for a lease.
    with transaction(factory) as db:
        again = jobs.claim(db, settings, "next")
        assert again is not None and again.run_id == run_id and again.attempt == 2


def _full_disk() -> None:
    # Writes past 256 KiB fail with EFBIG (as on a full disk) instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


@pytest.mark.parametrize("fault", ["store path not writable", "disk full"])
def test_unwritable_model_store_fails_the_run_and_the_active_version_keeps_serving(
    fault: str,
    fault_db: tuple[str, Engine],
    procs: Procs,
    tmp_path: Path,
    tiny_policy_dir: Path,
    tiny_reward_dir: Path,
) -> None:
    url, engine = fault_db
    settings = trainer_settings(tmp_path, url)
    factory = make_sessionmaker(engine)
    project_id, run_id = queue_run(factory, settings, tiny_policy_dir, tiny_reward_dir)
    with transaction(factory) as db:
        project = db.get_one(Project, project_id)
        make_pair(db, project)  # an open pair of version 0 for an evaluator
        evaluator = make_evaluator(db, project)
        secret, _ = create_api_token(db, evaluator, "faults")
        active_before = db.scalar(select(PolicyVersion.id).where(PolicyVersion.status == "active"))
    preexec = None
    if fault == "disk full":
        preexec = _full_disk
    else:
        # Root ignores permission bits; a regular file where a folder must go stops it too.
        (settings.resolved_model_dir / f"projects/{project_id}/reward").write_text("")

    proc = trainer(procs, "trainer", tmp_path, url, preexec)
    assert proc.wait(timeout=180) == 0, proc.output()[-3000:]

    run = get_run(factory, run_id)
    assert run.status == "failed" and run.lease_token is None, (run.status, run.error)
    assert "model store" in (run.error or ""), run.error
    assert str(settings.resolved_model_dir) in (run.error or ""), run.error
    assert versions_of(factory, project_id) == [(0, "active")]
    with transaction(factory) as db:
        assert db.scalar(select(PolicyVersion.id).where(PolicyVersion.status == "active")) == (
            active_before
        )
        assert db.scalar(select(RewardModel)) is None
    # The web app keeps handing out pairs of the active version.
    app = create_app(settings.model_copy(update={"database_url": url}), engine)
    with TestClient(app) as client:
        response = client.get(
            "/api/v1/pairs/next",
            params={"project_id": project_id},
            headers={"Authorization": f"Bearer {secret}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["pair"] is not None
