"""The sampler end to end with the tiny random model: buffer, batching, drops, version switch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.domain import rankings
from app.domain.store import ModelStore
from app.models import Completion, Pair, Project, Prompt
from app.sampling.backend import Sample, SampleRequest
from app.sampling.transformers_backend import TransformersBackend
from app.sampling.worker import Sampler
from tests.factories import make_prompt, make_version
from tests.factories.sampling import FakeBackend, open_pairs, sampler_settings


@pytest.fixture
def tiny_store(tiny_policy_dir: Path) -> tuple[ModelStore, str]:
    """A store whose root holds the tiny policy, and that checkpoint's URI."""
    return ModelStore(tiny_policy_dir.parent), tiny_policy_dir.name


def test_fills_the_buffer_in_batches_from_the_tiny_model(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tiny_store: tuple[ModelStore, str],
    tmp_path: Path,
) -> None:
    store, uri = tiny_store
    settings = sampler_settings(tmp_path, pair_buffer=6, pair_low_water=3, sample_batch_size=4)
    version = make_version(db, project, 0, uri)
    first = make_prompt(db, project, "Write a haiku about tea.", priority=5)
    chat = make_prompt(
        db,
        project,
        "chat",
        priority=5,
        messages=[{"role": "user", "content": "Hello! Who are you?"}],
    )
    make_prompt(db, project, "Held out", priority=9, held_out=True)
    make_prompt(db, project, "Inactive", priority=9, active=False)
    low = make_prompt(db, project, "Low priority prompt", priority=0)
    db.commit()
    backend = TransformersBackend(settings, store)
    sampler = Sampler(session_factory, settings, store=store, backend_factory=lambda: backend)

    assert sampler.step() == 6
    assert open_pairs(db, project.id, version.id) == 6
    # Two sequences per pair, generated 4 at a time (never one by one).
    assert sum(backend.generate_calls) == 12
    assert max(backend.generate_calls) == 4
    assert all(size <= 4 for size in backend.generate_calls)

    pairs = list(db.scalars(select(Pair).where(Pair.project_id == project.id)))
    sampled = {p.prompt_id for p in pairs}
    assert {first.id, chat.id} <= sampled  # priority first; held out and inactive never
    assert sampled <= {first.id, chat.id, low.id}
    for pair in pairs:
        a, b = db.get(Completion, pair.completion_a_id), db.get(Completion, pair.completion_b_id)
        assert a and b and a.text.strip() and a.text != b.text
        assert a.sampling["seed"] != b.sampling["seed"]
        assert a.completion_tokens > 0 and a.prompt_tokens > 0
        # Cut off exactly when the token limit was reached without an end-of-sequence token.
        for c in (a, b):
            limit_hit = c.completion_tokens == settings.max_new_tokens
            assert c.finish_reason == ("length" if limit_hit else "stop")
        assert pair.labels_required == project.overlap and pair.kind == "live"
    db.expire_all()
    counted = sum(p.times_sampled for p in db.scalars(select(Prompt)))
    assert counted == 6

    # Full: nothing more. Below the low-water mark: refilled to the buffer again.
    assert sampler.step() == 0
    ids = [p.id for p in pairs[:4]]
    db.execute(update(Pair).where(Pair.id.in_(ids)).values(status="complete"))
    db.commit()
    assert sampler.step() == 4
    assert open_pairs(db, project.id, version.id) == 6


def test_once_pairs_wait_a_backend_call_queues_several_batches_for_the_freed_slots(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tiny_store: tuple[ModelStore, str],
    tmp_path: Path,
) -> None:
    store, uri = tiny_store
    settings = sampler_settings(tmp_path, pair_buffer=8, pair_low_water=8, sample_batch_size=4)
    version = make_version(db, project, 0, uri)
    for n in range(4):
        make_prompt(db, project, f"Question {n}?", priority=5)
    db.commit()
    backend = TransformersBackend(settings, store)
    requested: list[int] = []
    generate = backend.generate

    def counted(requests: list[SampleRequest]) -> list[Sample]:
        requested.append(len(requests))
        return generate(requests)

    backend.generate = counted  # type: ignore[method-assign]
    sampler = Sampler(session_factory, settings, store=store, backend_factory=lambda: backend)

    assert sampler.step() == 8
    assert open_pairs(db, project.id, version.id) == 8
    # The empty buffer's first call is one batch; the rest of the refill is one call of
    # three batches' worth (six pairs), decoded never more than four rows at a time.
    assert requested == [4, 12]
    assert sum(backend.generate_calls) == 16
    assert all(rows <= 4 for rows in backend.generate_calls)


def test_a_seed_reproduces_its_sequence_whatever_the_batch(
    tiny_store: tuple[ModelStore, str], tmp_path: Path
) -> None:
    from app.sampling.backend import VersionRef

    store, uri = tiny_store
    backend = TransformersBackend(sampler_settings(tmp_path, sample_batch_size=8), store)
    backend.load(VersionRef(1, 1, 0, uri))
    batch = [SampleRequest(1, f"prompt {i}", None, seed=100 + i) for i in range(4)]
    together = backend.generate(batch)
    alone = backend.generate([batch[2]])
    assert alone[0].text == together[2].text
    assert len({s.text for s in together}) == 4


def test_identical_pairs_from_a_near_greedy_model_are_dropped(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tiny_store: tuple[ModelStore, str],
    tmp_path: Path,
) -> None:
    store, uri = tiny_store
    settings = sampler_settings(tmp_path, temperature=0.001, top_p=0.01)
    version = make_version(db, project, 0, uri)
    make_prompt(db, project, "Say something.")
    db.commit()
    sampler = Sampler(session_factory, settings, store=store)
    assert sampler.step() == 0  # every pair had two identical responses
    assert open_pairs(db, project.id, version.id) == 0
    assert db.scalar(select(Completion.id).where(Completion.prompt_id.isnot(None))) is None


def test_identical_or_empty_pairs_are_dropped_and_tag_overlap_applies(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=4, sample_batch_size=8)
    project.overlap = 2
    project.settings = {"overlap_by_tag": {"safety": 3, "easy": 1}}
    make_version(db, project, 0, "unused")
    same = make_prompt(db, project, "same", priority=9)
    empty = make_prompt(db, project, "empty", priority=9)
    safety = make_prompt(db, project, "risky", priority=1, tags=["safety", "easy"])
    plain = make_prompt(db, project, "plain", priority=0)
    db.commit()

    def text(request: SampleRequest, index: int) -> str:
        prompt = db.get(Prompt, request.prompt_id)
        assert prompt is not None
        if prompt.text == "same":
            return "identical answer"
        if prompt.text == "empty":
            return "   " if index % 2 else "an answer"
        return f"{prompt.text} answer seed {request.seed}"

    fake = FakeBackend(text)
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake)
    made = sampler.step()

    pairs = list(db.scalars(select(Pair).where(Pair.project_id == project.id)))
    assert made == len(pairs) == 4
    assert {p.prompt_id for p in pairs} == {safety.id, plain.id}
    assert same.id not in {p.prompt_id for p in pairs} and empty.id not in {
        p.prompt_id for p in pairs
    }
    required = {p.prompt_id: p.labels_required for p in pairs}
    assert required[safety.id] == 3 and required[plain.id] == 2


def test_switches_to_a_newly_activated_version(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tiny_store: tuple[ModelStore, str],
    tmp_path: Path,
) -> None:
    store, uri = tiny_store
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=1)
    project.head_to_head_share = 0.0  # live pairs only here: see test_head_to_head.py
    v0 = make_version(db, project, 0, uri)
    make_prompt(db, project, "Tell me a joke.")
    db.commit()
    backends: list[TransformersBackend] = []

    def factory() -> TransformersBackend:
        backends.append(TransformersBackend(settings, store))
        return backends[-1]

    sampler = Sampler(session_factory, settings, store=store, backend_factory=factory)
    assert sampler.step() == 2
    v1 = make_version(db, project, 1, uri)
    db.commit()
    assert sampler.step() == 2
    assert open_pairs(db, project.id, v1.id) == 2
    assert open_pairs(db, project.id, v0.id) == 2  # old pairs stay; the buffer is per version
    assert backends[0].version is not None and backends[0].version.number == 1
    assert sampler.status()["projects"][str(project.id)]["active_version"] == 1


def test_generated_tokens_are_counted_for_the_metrics_endpoint(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    from app.observability.metrics import SAMPLER_TOKENS

    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=2, sample_batch_size=4)
    make_version(db, project, 0, "unused")
    for n in range(3):
        make_prompt(db, project, f"prompt {n}")
    db.commit()
    fake = FakeBackend(lambda request, index: f"answer {request.seed}")
    before = SAMPLER_TOKENS.labels(backend="fake")._value.get()
    assert Sampler(session_factory, settings, backend_factory=lambda: fake).step() == 2
    # Five tokens per sequence (FakeBackend), every sequence generated, kept or not.
    generated = SAMPLER_TOKENS.labels(backend="fake")._value.get() - before
    assert generated == 5 * sum(fake.calls) > 0


def test_a_prompt_held_out_while_its_samples_were_generated_gets_no_pair(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=2, sample_batch_size=4)
    version = make_version(db, project, 0, "unused")
    prompt = make_prompt(db, project, "Soon held out")
    db.commit()

    def text(request: SampleRequest, index: int) -> str:
        held = db.get(Prompt, request.prompt_id)
        assert held is not None
        held.held_out = True  # an admin holds it out while the model is generating
        db.commit()
        return f"answer {request.seed}"

    fake = FakeBackend(text)
    assert Sampler(session_factory, settings, backend_factory=lambda: fake).step() == 0
    assert fake.calls, "it did generate"
    assert open_pairs(db, project.id, version.id) == 0
    assert db.scalar(select(Pair.id).where(Pair.prompt_id == prompt.id)) is None


def test_pauses_while_the_project_trains_when_told_to(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    from app.domain import jobs

    settings = sampler_settings(
        tmp_path, pair_buffer=2, pair_low_water=2, sampler_pause_during_runs=True
    )
    version = make_version(db, project, 0, "unused")
    for n in range(4):
        make_prompt(db, project, f"prompt {n}")
    run = jobs.enqueue(db, settings, project.id)
    db.commit()
    fake = FakeBackend(lambda request, index: f"answer {request.seed}")
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake)

    assert sampler.step() == 0  # the run is queued: nothing generated
    assert fake.calls == []
    note = sampler.status()["projects"][str(project.id)]["note"]
    assert f"run #{run.id}" in note and "SAMPLER_PAUSE_DURING_RUNS" in note

    run.status = "succeeded"
    db.commit()
    assert sampler.step() == 2  # the run is over: the buffer fills again
    assert open_pairs(db, project.id, version.id) == 2


def test_a_run_enqueued_during_a_refill_stops_it_after_the_batch(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    from app.domain import jobs

    settings = sampler_settings(
        tmp_path, pair_buffer=6, pair_low_water=6, sample_batch_size=2,
        sampler_pause_during_runs=True,
    )  # fmt: skip
    version = make_version(db, project, 0, "unused")
    for n in range(8):
        make_prompt(db, project, f"prompt {n}")
    db.commit()

    def answer(request, index):  # type: ignore[no-untyped-def]
        if len(fake.calls) == 1 and index == 0:  # during the first batch, a run is requested
            with session_factory() as other:
                jobs.enqueue(other, settings, project.id)
                other.commit()
        return f"answer {request.seed}"

    fake = FakeBackend(answer)
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake)
    assert sampler.step() == 1, "one batch of two answers, one pair, then it pauses"
    assert len(fake.calls) == 1
    assert open_pairs(db, project.id, version.id) == 1


def test_a_run_requested_mid_batch_cuts_the_batch_short(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.domain import jobs
    from app.domain.decoding.decode import StopRequested
    from app.sampling import worker

    monkeypatch.setattr(worker, "PREEMPT_PROBE_SECONDS", 0.0)  # ask the database every time
    requested: dict[str, int] = {}

    settings = sampler_settings(
        tmp_path, pair_buffer=4, pair_low_water=4, sampler_pause_during_runs=True
    )
    version = make_version(db, project, 0, "unused")
    for n in range(4):
        make_prompt(db, project, f"prompt {n}")
    db.commit()

    def answer(request, index):  # type: ignore[no-untyped-def]
        # What the transformers backend does at each new token: ask, and stop if told.
        assert not sampler.should_stop()
        with session_factory() as other:
            run = jobs.enqueue(other, settings, project.id)
            other.commit()
            requested["run"] = run.id
        if sampler.should_stop():
            raise StopRequested()
        return "never stored"

    fake = FakeBackend(answer)
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake)
    assert sampler.step() == 0
    assert len(fake.calls) == 1, "no batch after the cut one, no head-to-head or trial batch"
    assert open_pairs(db, project.id, version.id) == 0
    note = sampler.status()["projects"][str(project.id)]["note"]
    assert f"paused while run #{requested['run']} trains" in note
    assert not sampler.stop.is_set(), "the worker itself goes on"


def test_keeps_sampling_during_a_run_by_default(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    from app.domain import jobs

    settings = sampler_settings(tmp_path, pair_buffer=2, pair_low_water=2)
    make_version(db, project, 0, "unused")
    for n in range(3):
        make_prompt(db, project, f"prompt {n}")
    jobs.enqueue(db, settings, project.id)
    db.commit()
    fake = FakeBackend(lambda request, index: f"answer {request.seed}")
    assert Sampler(session_factory, settings, backend_factory=lambda: fake).step() == 2


def test_a_ranking_project_gets_k_samples_per_task(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=3, pair_low_water=3, sample_batch_size=8)
    project.settings = {"ranking_k": 4}
    make_version(db, project, 0, "unused")
    make_prompt(db, project, "rank me", priority=1)
    db.commit()
    fake = FakeBackend(lambda request, index: f"answer seed {request.seed}")
    sampler = Sampler(session_factory, settings, backend_factory=lambda: fake)

    assert sampler.step() == 3
    pairs = list(db.scalars(select(Pair).where(Pair.project_id == project.id)))
    items = rankings.items_of(db, [p.id for p in pairs])
    for pair in pairs:
        task = [item for item, _ in items[pair.id]]
        assert len({i.completion_id for i in task}) == 4
        assert [i.completion_id for i in task[:2]] == [pair.completion_a_id, pair.completion_b_id]
    # Four sequences per task, two tasks per generate() call of eight.
    assert max(fake.calls) == 8


def test_a_tagged_prompt_becomes_a_ranking_task_and_an_untagged_one_a_pair(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=4, sample_batch_size=8)
    project.settings = {"ranking_by_tag": {"creative": 3, "code": 5}}
    make_version(db, project, 0, "unused")
    tagged = make_prompt(db, project, "write a poem", tags=["creative", "code"], priority=1)
    plain = make_prompt(db, project, "what is 2 + 2", priority=1)
    db.commit()
    fake = FakeBackend(lambda request, index: f"answer seed {request.seed}")

    assert Sampler(session_factory, settings, backend_factory=lambda: fake).step() == 4
    pairs = list(db.scalars(select(Pair).where(Pair.project_id == project.id)))
    items = rankings.items_of(db, [p.id for p in pairs])
    sizes = {(p.prompt_id, len(items[p.id])) for p in pairs}
    # The largest of the prompt's tags applies; a prompt without one stays a pair (no items).
    assert sizes == {(tagged.id, 5), (plain.id, 0)}
    # K samples per ranking task, two per pair: no sample made for nothing.
    made = Counter(db.scalars(select(Completion.prompt_id)))
    tasks = Counter(p.prompt_id for p in pairs)
    assert made == {tagged.id: 5 * tasks[tagged.id], plain.id: 2 * tasks[plain.id]}
