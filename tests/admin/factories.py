"""Small builders for prompts, pairs and comparisons (the sampler and labelling flow are
other packages; these tests create their rows directly)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    Assignment,
    Comparison,
    Pair,
    PolicyVersion,
    Project,
    Prompt,
    User,
)
from app.prompts.importer import content_hash
from tests.factories import completion_pair

_seq = itertools.count(1)


def prompt(
    db: Session,
    project: Project,
    text: str | None = None,
    *,
    messages: list[dict[str, str]] | None = None,
    tags: list[str] | None = None,
    priority: int = 0,
) -> Prompt:
    text = text or f"prompt {next(_seq)}"
    row = Prompt(
        project_id=project.id,
        text=text,
        messages=messages,
        content_hash=content_hash(text, messages),
        tags=tags or [],
        priority=priority,
    )
    db.add(row)
    db.flush()
    return row


def version(db: Session, project: Project, number: int = 0) -> PolicyVersion:
    found = db.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project.id, PolicyVersion.number == number
        )
    )
    if found:
        return found
    row = PolicyVersion(
        project_id=project.id,
        number=number,
        checkpoint_uri=f"v{number}",
        base_model="tiny",
        status="active",
    )
    db.add(row)
    db.flush()
    return row


def pair(
    db: Session,
    project: Project,
    p: Prompt | None = None,
    *,
    a: str = "answer A",
    b: str = "answer B",
    kind: str = "live",
    gold_choice: str | None = None,
    labels_required: int = 1,
    status: str = "open",
) -> Pair:
    p = p or prompt(db, project)
    return completion_pair(
        db,
        project,
        p,
        version(db, project),
        a,
        b,
        kind=kind,
        gold_choice=gold_choice,
        labels_required=labels_required,
        status=status,
    )


def lease(db: Session, pr: Pair, user: User, *, left: str = "a") -> Assignment:
    row = Assignment(
        pair_id=pr.id,
        user_id=user.id,
        status="leased",
        left_side=left,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
    )
    db.add(row)
    db.flush()
    return row


def compare(
    db: Session,
    pr: Pair,
    user: User,
    choice: str,
    *,
    left: str = "a",
    decision_ms: int = 5000,
    flags: list[str] | None = None,
    at: datetime | None = None,
    strength: str | None = "clear",
) -> Comparison:
    asg = lease(db, pr, user, left=left)
    asg.status = "submitted"
    row = Comparison(
        project_id=pr.project_id,
        pair_id=pr.id,
        user_id=user.id,
        assignment_id=asg.id,
        choice=choice,
        strength=strength if choice in ("a", "b") else None,
        flags=flags or [],
        decision_ms=decision_ms,
        idempotency_key=f"k{next(_seq)}",
        is_gold=pr.kind == "gold",
        created_at=at or datetime.now(UTC),
    )
    db.add(row)
    pr.labels_received += 1
    db.flush()
    return row
