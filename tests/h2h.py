"""Small factories for policy versions, head-to-head pairs and judgements inserted directly."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

from sqlalchemy.orm import Session

from app.models import (
    Assignment,
    Comparison,
    Pair,
    PolicyVersion,
    Project,
    Prompt,
    User,
    utcnow,
)
from tests.factories import completion_pair

_serial = itertools.count(1)


def version(db: Session, project: Project, number: int, status: str = "archived") -> PolicyVersion:
    row = PolicyVersion(
        project_id=project.id,
        number=number,
        checkpoint_uri=f"projects/{project.id}/policy/v{number}",
        base_model="tiny",
        status=status,
    )
    db.add(row)
    db.flush()
    return row


def prompt(db: Session, project: Project, text: str | None = None) -> Prompt:
    text = text or f"Prompt number {next(_serial)}?"
    row = Prompt(
        project_id=project.id, text=text, content_hash=hashlib.sha256(text.encode()).hexdigest()
    )
    db.add(row)
    db.flush()
    return row


def pair(
    db: Session,
    project: Project,
    version_a: PolicyVersion,
    version_b: PolicyVersion,
    text_a: str = "response a",
    text_b: str = "response b",
    kind: str = "head_to_head",
    on: Prompt | None = None,
) -> Pair:
    """An open pair: completion a from `version_a`, completion b from `version_b`."""
    on = on or prompt(db, project)
    return completion_pair(
        db, project, on, version_a, text_a, text_b, version_b=version_b, kind=kind
    )


def judge(db: Session, target: Pair, user: User, choice: str) -> Comparison:
    """A submitted judgement of `target` by `user` (choice in completion a/b terms)."""
    assignment = Assignment(
        pair_id=target.id,
        user_id=user.id,
        status="submitted",
        expires_at=utcnow() + timedelta(minutes=5),
    )
    db.add(assignment)
    db.flush()
    row = Comparison(
        project_id=target.project_id,
        pair_id=target.id,
        user_id=user.id,
        assignment_id=assignment.id,
        choice=choice,
        idempotency_key=f"test-{next(_serial)}",
    )
    db.add(row)
    db.flush()
    return row


def judgements(
    db: Session,
    project: Project,
    user: User,
    version_a: PolicyVersion,
    version_b: PolicyVersion,
    choices: str,
    kind: str = "head_to_head",
) -> None:
    """One head-to-head pair per letter of `choices`: a, b, t (tie) or x (both bad)."""
    names = {"a": "a", "b": "b", "t": "tie", "x": "both_bad"}
    for letter in choices:
        judge(db, pair(db, project, version_a, version_b, kind=kind), user, names[letter])
