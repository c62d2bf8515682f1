"""Small builders for labelling tests: project → prompt → policy version → completions → pair."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Pair,
    PolicyVersion,
    Project,
    ProjectMember,
    Prompt,
    User,
    UserRole,
)
from tests.factories import completion_pair

_seq = itertools.count(1)


def make_project(db: Session, name: str | None = None, **fields: Any) -> Project:
    project = Project(name=name or f"project-{next(_seq)}", **fields)
    db.add(project)
    db.flush()
    return project


def policy_version(db: Session, project: Project) -> PolicyVersion:
    version = db.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project.id, PolicyVersion.number == 0
        )
    )
    if version is None:
        version = PolicyVersion(
            project_id=project.id,
            number=0,
            checkpoint_uri="policy/v0",
            base_model="tiny",
            status="active",
        )
        db.add(version)
        db.flush()
    return version


def make_prompt(
    db: Session,
    project: Project,
    text: str | None = None,
    messages: list[dict[str, str]] | None = None,
) -> Prompt:
    text = text or f"Prompt number {next(_seq)}?"
    prompt = Prompt(
        project_id=project.id,
        text=text,
        messages=messages,
        content_hash=hashlib.sha256(f"{text}{messages}{next(_seq)}".encode()).hexdigest(),
    )
    db.add(prompt)
    db.flush()
    return prompt


def make_pair(
    db: Session,
    project: Project,
    *,
    text_a: str | None = None,
    text_b: str | None = None,
    prompt: Prompt | None = None,
    **fields: Any,
) -> Pair:
    """A pair of two fresh completions; `fields` override Pair columns (kind, margin, ...)."""
    prompt = prompt or make_prompt(db, project)
    version = policy_version(db, project)
    n = next(_seq)
    fields.setdefault("labels_required", project.overlap)
    return completion_pair(
        db, project, prompt, version, text_a or f"answer A{n}", text_b or f"answer B{n}", **fields
    )


def make_pairs(db: Session, project: Project, n: int, **fields: Any) -> list[Pair]:
    return [make_pair(db, project, **fields) for _ in range(n)]


def make_evaluator(db: Session, project: Project, name: str | None = None) -> User:
    """An evaluator member without the cost of hashing a password (tests make many)."""
    user = User(username=name or f"eval{next(_seq)}", password_hash="!unusable")
    user.role_rows.append(UserRole(role="evaluator"))
    db.add(user)
    db.flush()
    db.add(ProjectMember(project_id=project.id, user_id=user.id))
    db.flush()
    return user
