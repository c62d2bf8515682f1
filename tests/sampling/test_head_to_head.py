"""Head-to-head pairs: the active version against v0 and the previous version."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.models import Completion, Pair, PolicyVersion, Project, utcnow
from app.sampling import service
from app.sampling.backend import Sample, SampleRequest
from app.sampling.worker import Sampler
from tests.factories import make_prompt, make_version
from tests.factories.sampling import FakeBackend, sampler_settings


class VersionedFake(FakeBackend):
    """Text says which version wrote it, so a test can tell the sides apart."""

    def __init__(self) -> None:
        super().__init__(self._text)

    def _text(self, request: SampleRequest, i: int) -> str:
        return f"v{self.loaded[-1].number} says {request.seed}"


def promoted(db: Session, project: Project, number: int) -> PolicyVersion:
    version = make_version(db, project, number, f"policy/v{number}")
    version.promoted_at = utcnow()
    return version


def h2h_pairs(db: Session, project: Project) -> list[tuple[str, str, Pair]]:
    rows = []
    for pair in db.scalars(
        select(Pair).where(Pair.project_id == project.id, Pair.kind == "head_to_head")
    ):
        a = db.get(Completion, pair.completion_a_id)
        b = db.get(Completion, pair.completion_b_id)
        assert a is not None and b is not None
        rows.append((a.text.split()[0], b.text.split()[0], pair))
    return rows


def test_share_sets_how_many_head_to_head_pairs_are_kept(tmp_path: Path) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=16)
    assert service.head_to_head_buffer(0.0, settings) == 0
    assert service.head_to_head_buffer(0.2, settings) == 4  # 4 of 20 open pairs = 20 %
    assert service.head_to_head_buffer(0.5, settings) == 16
    assert service.head_to_head_buffer(0.01, settings) == 1


def test_active_version_meets_v0_and_the_previous_version(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=2, sample_batch_size=4)
    project.head_to_head_share = 0.5  # as many head-to-head as live pairs: 4
    for text in ("One?", "Two?", "Three?", "Four?"):
        make_prompt(db, project, text)
    promoted(db, project, 0)
    promoted(db, project, 1)
    promoted(db, project, 2)
    active = promoted(db, project, 3)
    db.commit()
    backends: list[VersionedFake] = []

    def factory() -> VersionedFake:
        backends.append(VersionedFake())
        return backends[-1]

    sampler = Sampler(session_factory, settings, backend_factory=factory)
    assert sampler.step() == 8  # 4 live + 4 head to head

    rows = h2h_pairs(db, project)
    assert len(rows) == 4
    # Completion a is always the active version's; b is v0 or v2 (the previous), in turn.
    assert {a for a, _, _ in rows} == {"v3"}
    assert sorted(b for _, b, _ in rows) == ["v0", "v0", "v2", "v2"]
    for _, _, pair in rows:
        assert pair.policy_version_id == active.id and pair.status == "open"
        b = db.get(Completion, pair.completion_b_id)
        assert b is not None and b.policy_version_id != active.id
    status = sampler.status()["projects"][str(project.id)]
    assert status["head_to_head"] == 4 and status["buffer"] == 4
    # The buffer is full: nothing more until evaluators take some.
    assert sampler.step() == 0
    taken = [p.id for _, _, p in rows[:3]]
    db.execute(update(Pair).where(Pair.id.in_(taken)).values(status="complete"))
    db.commit()
    assert sampler.step() == 3
    assert len([r for r in h2h_pairs(db, project) if r[2].status == "open"]) == 4


def test_no_head_to_head_without_an_earlier_version_or_with_share_zero(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=1)
    project.head_to_head_share = 0.5
    make_prompt(db, project, "Alone?")
    promoted(db, project, 0)
    db.commit()
    sampler = Sampler(session_factory, settings, backend_factory=VersionedFake)
    assert sampler.step() == 2  # v0 alone: live pairs only
    assert h2h_pairs(db, project) == []

    promoted(db, project, 1)
    project.head_to_head_share = 0.0
    db.commit()
    sampler.step()
    assert h2h_pairs(db, project) == []


def test_promotion_frees_the_opponents_that_no_longer_play(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=1)
    project.head_to_head_share = 0.5
    make_prompt(db, project, "Which?")
    promoted(db, project, 0)
    promoted(db, project, 1)
    db.commit()
    sampler = Sampler(session_factory, settings, backend_factory=VersionedFake)
    sampler.step()
    assert {k[1] for k in sampler.rival_backends} == {
        db.scalar(select(PolicyVersion.id).where(PolicyVersion.number == 0))
    }
    promoted(db, project, 2)
    v3 = promoted(db, project, 3)  # opponents now v0 and v2: v1's model is let go
    db.commit()
    sampler.step()
    numbers = {
        db.scalar(select(PolicyVersion.number).where(PolicyVersion.id == k[1]))
        for k in sampler.rival_backends
    }
    assert numbers == {0, 2}
    assert {b for _, b, p in h2h_pairs(db, project) if p.policy_version_id == v3.id} == {"v0", "v2"}


def test_head_to_head_pairs_are_made_while_evaluators_drain_the_live_ones(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=2, sample_batch_size=4)
    project.head_to_head_share = 0.2
    for i in range(8):
        make_prompt(db, project, f"Question {i}?")
    promoted(db, project, 0)
    promoted(db, project, 1)
    db.commit()
    sampler: Sampler

    class Drained(VersionedFake):
        """Evaluators take every open live pair as soon as the next batch is asked for."""

        def generate(self, requests: list[SampleRequest]) -> list[Sample]:
            if len(self.calls) > 50:  # the refill never let go: stop rather than hang
                sampler.stop.set()
            with session_factory() as s:
                s.execute(
                    update(Pair)
                    .where(Pair.kind == "live", Pair.status == "open")
                    .values(status="complete")
                )
                s.commit()
            return super().generate(requests)

    sampler = Sampler(session_factory, settings, backend_factory=Drained)
    sampler.step()
    assert not sampler.stop.is_set()
    assert len(h2h_pairs(db, project)) == service.head_to_head_buffer(0.2, settings)
    assert sampler.cut_short  # the live buffer still wants pairs: the next step comes at once
