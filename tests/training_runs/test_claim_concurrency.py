"""Concurrent trainers with real commits: no run is ever claimed twice."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from app.db import make_sessionmaker, transaction
from app.domain import jobs
from app.projects.service import ensure_default_project
from app.settings import Settings


def test_two_claimers_never_get_the_same_run(committed_engine: Engine, settings: Settings) -> None:
    factory = make_sessionmaker(committed_engine)
    settings = settings.model_copy(update={"training_parallel_runs": True})
    with transaction(factory) as db:
        project = ensure_default_project(db, "tiny")
        for _ in range(12):
            jobs.enqueue(db, settings, project.id)
    got: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(got))

    def claimer(name: str) -> None:
        start.wait()
        while True:
            with transaction(factory) as db:
                claim = jobs.claim(db, settings, name)
            if claim is None:
                return
            got[name].append(claim.run_id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    claimed = [r for ids in got.values() for r in ids]
    assert sorted(claimed) == sorted(set(claimed)), got
    assert len(claimed) == 12
