"""`pairwise demo` seeding: one admin, password shown once, re-runs reuse everything."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.auth.service import authenticate
from app.db import make_engine, make_sessionmaker, transaction
from app.demo import ADMIN_USERNAME, seed
from app.domain.project_settings import update_settings
from app.domain.retraining import Schedule, schedule_of
from app.models import Project, User
from app.settings import Settings


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
        assert schedule_of(project, settings) == Schedule(every_labels=50, min_minutes=10)
        update_settings(project, retrain_every_labels=0)  # an admin turns it off
    seed(settings)  # the next start leaves that alone
    with transaction(factory) as db:
        project = db.scalars(select(Project)).one()
        assert not schedule_of(project, settings).on
