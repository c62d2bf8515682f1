"""Statuses and kinds are StrEnums: stored as their text, listed by the columns' checks."""

from __future__ import annotations

from sqlalchemy import select

from app.models import PolicyVersion, Project, RunStatus, TrainingRun, VersionStatus
from app.models.training import RUN_STATUSES
from app.web import templates


def test_enum_members_are_stored_as_text_and_read_back_equal(db) -> None:
    project = Project(name="vocab")
    db.add(project)
    db.flush()
    db.add(PolicyVersion(project_id=project.id, number=0, checkpoint_uri="x", base_model="m"))
    db.add(TrainingRun(project_id=project.id))
    db.flush()
    version = db.scalar(select(PolicyVersion).where(PolicyVersion.project_id == project.id))
    assert version.status == VersionStatus.candidate == "candidate"
    assert db.scalar(select(TrainingRun.status)) == RunStatus.queued
    assert RUN_STATUSES == ("queued", "running", "succeeded", "failed", "cancelled")


def test_templates_name_statuses_instead_of_spelling_them() -> None:
    page = templates.env.from_string("{{ 'yes' if s == VersionStatus.archived else 'no' }}")
    assert page.render(s="archived") == "yes"
    assert page.render(s="active") == "no"
