"""The queue contract: enqueue, claim with a lease, heartbeat, finish/fail only with the token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.domain import jobs
from app.models import Project, TrainingRun, utcnow
from app.settings import Settings


def expire(db: Session, run_id: int) -> None:
    run = db.get(TrainingRun, run_id)
    assert run is not None
    run.lease_expires_at = utcnow() - timedelta(seconds=1)
    db.flush()


def test_enqueue_then_claim_gives_a_lease(
    db: Session, settings: Settings, project: Project
) -> None:
    run = jobs.enqueue(db, settings, project.id, recipe="tiny", requested_by_id=None)
    assert run.status == "queued"
    claim = jobs.claim(db, settings, "w1")
    assert claim is not None and claim.run_id == run.id and claim.attempt == 1
    db.refresh(run)
    assert run.status == "running" and run.lease_owner == "w1" and run.lease_token == claim.token
    assert run.lease_expires_at > utcnow()
    assert jobs.claim(db, settings, "w2") is None  # nothing else to take


def test_second_active_run_is_refused_unless_configured(
    db: Session, settings: Settings, project: Project
) -> None:
    first = jobs.enqueue(db, settings, project.id)
    with pytest.raises(jobs.JobError, match=f"Run #{first.id} is already queued"):
        jobs.enqueue(db, settings, project.id)
    parallel = settings.model_copy(update={"training_parallel_runs": True})
    assert jobs.enqueue(db, parallel, project.id).id != first.id


def test_enqueue_rejects_unknown_kind_and_project(
    db: Session, settings: Settings, project: Project
) -> None:
    with pytest.raises(jobs.JobError, match="Unknown run kind 'both'"):
        jobs.enqueue(db, settings, project.id, kind="both")
    with pytest.raises(jobs.JobError, match="Project 999999 does not exist"):
        jobs.enqueue(db, settings, 999999)


def test_only_the_live_token_may_heartbeat_finish_or_fail(
    db: Session, settings: Settings, project: Project
) -> None:
    jobs.enqueue(db, settings, project.id)
    claim = jobs.claim(db, settings, "w1")
    assert claim is not None
    for call in (
        lambda t: jobs.heartbeat(db, settings, claim.run_id, t, progress=0.5),
        lambda t: jobs.finish(db, claim.run_id, t),
        lambda t: jobs.fail(db, claim.run_id, t, "boom"),
    ):
        with pytest.raises(jobs.LeaseLost):
            call("not-the-token")
    assert (
        jobs.heartbeat(
            db, settings, claim.run_id, claim.token, progress=0.4, stage="reward", log_tail="line"
        )
        is False
    )
    run = db.get(TrainingRun, claim.run_id)
    assert run is not None and run.progress == 0.4 and run.stage == "reward" and run.log == "line"
    jobs.finish(db, claim.run_id, claim.token, metrics={"ok": 1})
    assert run.status == "succeeded" and run.progress == 1.0 and run.finished_at is not None
    with pytest.raises(jobs.LeaseLost):  # a finished run takes no more heartbeats
        jobs.heartbeat(db, settings, claim.run_id, claim.token)


def test_expired_lease_is_retried_then_failed_with_the_reason(
    db: Session, settings: Settings, project: Project
) -> None:
    settings = settings.model_copy(update={"training_max_attempts": 2})
    run = jobs.enqueue(db, settings, project.id)
    first = jobs.claim(db, settings, "w1")
    assert first is not None
    expire(db, run.id)
    second = jobs.claim(db, settings, "w2")
    assert second is not None and second.run_id == run.id and second.attempt == 2
    assert second.token != first.token
    with pytest.raises(jobs.LeaseLost):  # the dead trainer's token is worthless now
        jobs.finish(db, run.id, first.token)
    expire(db, run.id)
    assert jobs.claim(db, settings, "w3") is None
    db.refresh(run)
    assert run.status == "failed"
    assert "lease expired" in (run.error or "") and "attempt 2 of 2" in (run.error or "")


def test_cancel_queued_at_once_and_running_on_request(
    db: Session, settings: Settings, project: Project
) -> None:
    parallel = settings.model_copy(update={"training_parallel_runs": True})
    running = jobs.enqueue(db, parallel, project.id)
    queued = jobs.enqueue(db, parallel, project.id)
    claim = jobs.claim(db, parallel, "w1")
    assert claim is not None and claim.run_id == running.id
    jobs.cancel(db, queued)
    assert queued.status == "cancelled" and queued.finished_at is not None
    jobs.cancel(db, running)
    assert running.status == "running" and running.cancel_requested
    assert jobs.heartbeat(db, parallel, running.id, claim.token) is True
    jobs.fail(db, running.id, claim.token, "cancelled", cancelled=True)
    assert running.status == "cancelled" and running.error is None
    with pytest.raises(jobs.JobError, match="already cancelled"):
        jobs.cancel(db, running)


def test_release_puts_the_run_back_for_another_trainer(
    db: Session, settings: Settings, project: Project
) -> None:
    run = jobs.enqueue(db, settings, project.id)
    claim = jobs.claim(db, settings, "w1")
    assert claim is not None
    jobs.release(db, run.id, claim.token)
    assert run.status == "queued" and run.lease_token is None
    again = jobs.claim(db, settings, "w2")
    assert again is not None and again.run_id == run.id and again.attempt == 2


def test_expired_run_with_cancel_requested_ends_cancelled(
    db: Session, settings: Settings, project: Project
) -> None:
    run = jobs.enqueue(db, settings, project.id)
    assert jobs.claim(db, settings, "w1") is not None
    jobs.cancel(db, run)
    expire(db, run.id)
    assert jobs.claim(db, settings, "w2") is None
    db.refresh(run)
    assert run.status == "cancelled"


def test_a_run_of_a_trainer_that_ended_on_this_machine_is_queued_again_at_once(
    db: Session, settings: Settings, project: Project
) -> None:
    import socket
    import subprocess
    import sys

    from trainer.worker import ended_here, worker_id

    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = f"trainer-{socket.gethostname()}-{finished.stdout.strip()}-abc123"
    assert ended_here(dead_owner)
    assert not ended_here(worker_id())  # this very process
    assert not ended_here(f"trainer-elsewhere-{finished.stdout.strip()}-abc123")  # can't tell

    run = jobs.enqueue(db, settings, project.id)
    claim = jobs.claim(db, settings, dead_owner)
    assert claim is not None
    assert jobs.release_abandoned(db, lambda owner: False) == []
    assert jobs.release_abandoned(db, ended_here) == [run.id]
    db.refresh(run)
    assert run.status == "queued" and run.lease_token is None and run.attempts == 1
    again = jobs.claim(db, settings, "w2")
    assert again is not None and again.run_id == run.id and again.attempt == 2
