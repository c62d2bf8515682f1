"""Several samplers at once (threads, committed transactions) on SQLite and Postgres."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import make_sessionmaker, transaction
from app.domain.store import ModelStore
from app.models import Completion, Pair, PolicyVersion
from app.projects.service import ensure_default_project
from app.sampling.worker import Sampler
from tests.conftest import fresh_engine
from tests.factories import make_prompt
from tests.factories.sampling import open_pairs, sampler_settings


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_samplers_share_version_zero_and_stay_within_the_buffer(
    backend: str, tmp_path: Path, tiny_policy_dir: Path
) -> None:
    engine = fresh_engine(backend, tmp_path)
    try:
        factory = make_sessionmaker(engine)
        settings = sampler_settings(
            tmp_path, pair_buffer=5, pair_low_water=5, sample_batch_size=4, max_new_tokens=6
        )
        store = ModelStore(tmp_path / "models")
        with transaction(factory) as db:
            project = ensure_default_project(db, str(tiny_policy_dir))
            for i in range(3):
                make_prompt(db, project, f"Question number {i}?")
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def work() -> None:
            sampler = Sampler(factory, settings, store=store)
            try:
                start.wait()
                sampler.step()
                if sampler.failed or sampler.last_error:
                    raise AssertionError(sampler.status())
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors

        with transaction(factory) as db:
            versions = list(db.scalars(select(PolicyVersion)))
            assert [(v.number, v.status) for v in versions] == [(0, "active")]
            assert store.exists(versions[0].checkpoint_uri)
            assert open_pairs(db, project.id, versions[0].id) == 5  # exactly the buffer
            _assert_no_duplicate_pairs(db)
    finally:
        engine.dispose()


def _assert_no_duplicate_pairs(db: Session) -> None:
    pairs = list(db.scalars(select(Pair)))
    keys = set()
    for p in pairs:
        a, b = db.get(Completion, p.completion_a_id), db.get(Completion, p.completion_b_id)
        assert a is not None and b is not None and a.text != b.text
        keys.add((p.prompt_id, frozenset((a.text, b.text))))
    assert len(keys) == len(pairs)
    used = db.scalar(select(func.count(Completion.id)))
    assert used == 2 * len(pairs)  # no stray completions from discarded candidates
