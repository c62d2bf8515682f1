"""Real commits from many threads on Postgres: no shared leases, overlap holds, one per retry."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_sessionmaker, transaction
from app.labeling import service
from app.labeling.schemas import SubmitIn
from app.labeling.submission import submit
from app.migrate import upgrade
from app.models import Comparison, Pair, Project, User
from app.settings import Settings
from tests.conftest import fresh_engine, reset_postgres
from tests.factories import make_evaluator, make_pairs, make_project

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Engine]:
    engine = fresh_engine("postgres", tmp_path)
    yield engine
    reset_postgres(engine)  # leave a clean, migrated schema for the other tests
    upgrade(engine)
    engine.dispose()


def _setup(
    factory: sessionmaker[Session], pairs: int, users: int, overlap: int
) -> tuple[int, list[int]]:
    with transaction(factory) as db:
        project = make_project(db, overlap=overlap)
        make_pairs(db, project, pairs)
        ids = [make_evaluator(db, project).id for _ in range(users)]
        return project.id, ids


def _all_at_once(n: int, work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # surfaced below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def _ask(
    factory: sessionmaker[Session], settings: Settings, project_id: int, user_id: int
) -> int | None:
    with transaction(factory) as db:
        lease = service.next_pair(
            db, settings, db.get_one(User, user_id), db.get_one(Project, project_id)
        )
        return lease.pair.id if lease else None


def test_fifty_evaluators_at_once_never_share_a_pair(pg: Engine, settings: Settings) -> None:
    factory = make_sessionmaker(pg)
    project_id, users = _setup(factory, pairs=60, users=50, overlap=1)
    got = _all_at_once(50, lambda i: _ask(factory, settings, project_id, users[i]))
    assert None not in got
    assert len(set(got)) == 50


def test_overlap_two_gives_each_pair_exactly_two_labels(pg: Engine, settings: Settings) -> None:
    factory = make_sessionmaker(pg)
    project_id, users = _setup(factory, pairs=30, users=50, overlap=2)
    first = _all_at_once(50, lambda i: _ask(factory, settings, project_id, users[i]))
    assert max(Counter(p for p in first if p is not None).values()) <= 2

    def label_until_empty(i: int) -> int:
        done, empty = 0, 0
        while empty < 3:
            with transaction(factory) as db:
                user = db.get_one(User, users[i])
                lease = service.next_pair(db, settings, user, db.get_one(Project, project_id))
                if lease is None:
                    empty += 1
                    continue
                empty = 0
                submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice="tie"))
                done += 1
        return done

    labelled = _all_at_once(50, label_until_empty)
    with transaction(factory) as db:
        pairs = db.scalars(select(Pair).where(Pair.project_id == project_id)).all()
        assert {(p.labels_received, p.status) for p in pairs} == {(2, "complete")}
        per_pair = Counter(db.scalars(select(Comparison.pair_id)).all())
        assert set(per_pair.values()) == {2} and len(per_pair) == 30
        distinct = db.scalar(
            select(func.count()).select_from(
                select(Comparison.pair_id, Comparison.user_id).distinct().subquery()
            )
        )
        assert distinct == 60
    assert sum(labelled) == 60


def test_twenty_concurrent_retries_store_one_comparison(pg: Engine, settings: Settings) -> None:
    factory = make_sessionmaker(pg)
    project_id, users = _setup(factory, pairs=1, users=1, overlap=1)
    with transaction(factory) as db:
        lease = service.next_pair(
            db, settings, db.get_one(User, users[0]), db.get_one(Project, project_id)
        )
        assert lease is not None
        data = SubmitIn(
            assignment_id=lease.assignment.id, choice="left", idempotency_key="retry-me"
        )

    def retry(_: int) -> tuple[int, bool]:
        with transaction(factory) as db:
            result = submit(db, db.get_one(User, users[0]), data)
            return result.comparison.id, result.replayed

    results = _all_at_once(20, retry)
    assert len({cid for cid, _ in results}) == 1
    assert sum(1 for _, replayed in results if not replayed) == 1
    with transaction(factory) as db:
        assert db.scalar(select(func.count()).select_from(Comparison)) == 1
        assert db.scalar(select(Pair.labels_received)) == 1
