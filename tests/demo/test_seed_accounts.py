"""`pairwise demo` seeding: one admin, password shown once, re-runs reuse everything."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import delete, func, select

from app.auth.service import authenticate
from app.db import make_engine, make_sessionmaker, transaction
from app.demo import ADMIN_USERNAME, seed
from app.domain.project_settings import update_settings
from app.domain.retraining import Schedule, schedule_of
from app.models import Project, Prompt, User
from app.sampling.demo_prompts import parsed_demo_prompts, seed_demo_prompts
from app.settings import Settings
from tests.factories import make_prompt


def test_seed_creates_admin_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sampler_enabled=False)  # type: ignore[call-arg]
    password = seed(settings)
    assert password and len(password) >= 12
    assert seed(settings) is None  # second run: no new admin, no password
    factory = make_sessionmaker(make_engine(settings.resolved_database_url))
    with transaction(factory) as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1
        assert db.scalar(select(func.count()).select_from(Project)) == 1
        admin = authenticate(db, ADMIN_USERNAME, password)
        assert admin is not None and {"admin", "ml", "evaluator"} <= admin.roles


def test_demo_project_retrains_by_itself_unless_an_admin_changed_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sampler_enabled=False)  # type: ignore[call-arg]
    seed(settings)
    factory = make_sessionmaker(make_engine(settings.resolved_database_url))
    with transaction(factory) as db:
        project = db.scalars(select(Project)).one()
        assert schedule_of(project, settings) == Schedule(
            every_labels=50, min_minutes=10, simulated=True
        )
        update_settings(project, retrain_every_labels=0)  # an admin turns it off
    seed(settings)  # the next start leaves that alone
    with transaction(factory) as db:
        project = db.scalars(select(Project)).one()
        assert not schedule_of(project, settings).on


ORIGINAL_EIGHT = [
    "Explain why the sky is blue to a ten-year-old.",
    "Write a short, friendly email declining a meeting invitation.",
    "Give three tips for staying focused while working from home.",
    "What is the difference between a list and a tuple in Python?",
    "Suggest a name for a cozy neighbourhood coffee shop and explain it.",
    "Summarise the water cycle in four sentences.",
    "How do I politely ask a colleague to stop interrupting me?",
    "Write a haiku about autumn leaves.",
]
KINDS = {"everyday", "explain", "advice", "writing", "code"}


def test_the_demo_prompt_set_is_large_varied_and_a_tenth_held_out() -> None:
    records = parsed_demo_prompts().records
    texts = [r.text for r in records]
    assert len(texts) >= 300
    normalised = {" ".join(t.lower().rstrip("?.!").split()) for t in texts}
    assert len(normalised) == len(texts), "no duplicates, not even in case or punctuation"
    assert set(ORIGINAL_EIGHT) <= set(texts)
    for record in records:
        assert record.tags[0] == "demo" and len(record.tags) == 2 and record.tags[1] in KINDS
        assert record.held_out is not None  # stated for each, so no project share overrides it
    by_kind = Counter(r.tags[1] for r in records)
    assert set(by_kind) == KINDS and min(by_kind.values()) >= 50
    held = [r for r in records if r.held_out]
    assert 0.08 <= len(held) / len(records) <= 0.12
    assert {r.tags[1] for r in held} == KINDS  # the evaluation set covers every kind
    assert not {r.text for r in held} & set(ORIGINAL_EIGHT)


def test_the_demo_seeds_its_prompts_and_an_upgrade_adds_the_new_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sampler_enabled=False)  # type: ignore[call-arg]
    expected = parsed_demo_prompts().records
    seed(settings)
    factory = make_sessionmaker(make_engine(settings.resolved_database_url))
    with transaction(factory) as db:
        project = db.scalars(select(Project)).one()
        stored = dict(db.execute(select(Prompt.text, Prompt.held_out)).all())
        assert stored == {r.text: r.held_out for r in expected}
        assert seed_demo_prompts(db, project) == 0  # a second start adds nothing
        # A database seeded by the old release (8 prompts tagged "demo") gets the rest.
        db.execute(delete(Prompt).where(Prompt.text.not_in(ORIGINAL_EIGHT)))
        assert seed_demo_prompts(db, project) == len(expected) - len(ORIGINAL_EIGHT)
        # A project with prompts of its own is left alone.
        db.execute(delete(Prompt).where(Prompt.text.not_in(ORIGINAL_EIGHT)))
        make_prompt(db, project, "mine")
        assert seed_demo_prompts(db, project) == 0
