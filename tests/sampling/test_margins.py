"""Reward margins of live pairs (for active selection), from the project's newest reward model."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.domain.store import ModelStore
from app.models import Completion, Pair, Project, RewardModel, utcnow
from app.sampling.backend import SampleRequest
from app.sampling.worker import Sampler
from tests.factories import make_prompt, make_version
from tests.factories.sampling import FakeBackend, sampler_settings


class LengthScorer:
    """Scores a response by minus its length: the shorter one wins."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, prompts: list[Any], completions: list[str]) -> list[float]:
        self.calls += 1
        assert len(prompts) == len(completions)
        return [-float(len(c)) for c in completions]


def texts(request: SampleRequest, i: int) -> str:
    return "x" * (5 + request.seed % 50) + f" {request.seed}"


def margins(db: Session, project: Project, kind: str = "live") -> dict[int, float | None]:
    db.expire_all()
    rows = db.scalars(select(Pair).where(Pair.project_id == project.id, Pair.kind == kind))
    return {p.id: p.reward_margin for p in rows}


def expected(db: Session, pair_id: int) -> float:
    pair = db.get(Pair, pair_id)
    assert pair is not None
    a, b = db.get(Completion, pair.completion_a_id), db.get(Completion, pair.completion_b_id)
    assert a is not None and b is not None
    return float(len(b.text) - len(a.text))


def reward_model(db: Session, project: Project, uri: str) -> RewardModel:
    row = RewardModel(project_id=project.id, checkpoint_uri=uri, base_model="tiny")
    db.add(row)
    db.commit()
    return row


def test_pairs_get_margins_once_a_reward_model_exists(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=4)
    make_prompt(db, project, "Short or long?")
    make_version(db, project, 0, "policy/v0").promoted_at = utcnow()
    db.commit()
    scorer = LengthScorer()
    loaded: list[Path] = []

    def loader(folder: Path) -> LengthScorer:
        loaded.append(folder)
        return scorer

    sampler = Sampler(session_factory, settings, backend_factory=lambda: FakeBackend(texts))
    sampler.margins.loader = loader
    sampler.step()
    before = margins(db, project)
    assert len(before) == 4 and set(before.values()) == {None}  # no reward model yet

    reward_model(db, project, "reward/r1")
    db.execute(Pair.__table__.update().where(Pair.id == min(before)).values(status="complete"))
    db.commit()
    sampler.step()  # loads the model, scores the 3 open pairs, makes 1 new scored pair
    after = margins(db, project)
    assert len(after) == 5 and loaded == [ModelStore(settings.resolved_model_dir).path("reward/r1")]
    assert after[min(before)] is None  # completed before: left alone
    for pair_id, margin in after.items():
        if pair_id != min(before):
            assert margin == expected(db, pair_id)
    assert any(m != 0 for m in after.values() if m is not None)

    sampler.step()  # the same model is not loaded twice
    assert len(loaded) == 1


def test_no_margins_while_active_selection_is_off(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(
        tmp_path, pair_buffer=2, pair_low_water=1, active_selection_share=0.0
    )
    make_prompt(db, project, "Anything?")
    make_version(db, project, 0, "policy/v0")
    reward_model(db, project, "reward/r1")
    sampler = Sampler(session_factory, settings, backend_factory=lambda: FakeBackend(texts))
    sampler.margins.loader = lambda folder: LengthScorer()
    sampler.step()
    assert set(margins(db, project).values()) == {None}


def test_a_broken_reward_model_does_not_stop_sampling(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=1)
    make_prompt(db, project, "Anything?")
    make_version(db, project, 0, "policy/v0")
    reward_model(db, project, "reward/missing")
    sampler = Sampler(session_factory, settings, backend_factory=lambda: FakeBackend(texts))
    assert sampler.step() == 2  # the real loader fails: no such folder
    assert set(margins(db, project).values()) == {None}
    status = sampler.status()["projects"][str(project.id)]
    assert "reward/missing" in (status["reward_model_error"] or "")


def test_head_to_head_pairs_are_never_scored_and_the_real_scorer_works(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tiny_reward_dir: Path,
    tmp_path: Path,
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=2)
    project.head_to_head_share = 0.5
    make_prompt(db, project, "Which one?")
    make_version(db, project, 0, "policy/v0").promoted_at = utcnow()
    make_version(db, project, 1, "policy/v1").promoted_at = utcnow()
    reward_model(db, project, tiny_reward_dir.name)
    store = ModelStore(tiny_reward_dir.parent)  # the tiny reward model sits in this "store"
    sampler = Sampler(
        session_factory, settings, store=store, backend_factory=lambda: FakeBackend(texts)
    )
    sampler.step()
    live = margins(db, project)
    assert len(live) == 2 and all(m is not None and math.isfinite(m) for m in live.values())
    assert set(margins(db, project, "head_to_head").values()) == {None}
