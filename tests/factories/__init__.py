"""The one home of test data: rows inserted directly, without the sampler or the labelling flow.

Submodules hold what only some suites need: `models` (tiny random models, session fixtures),
`sampling` (sampler settings and a fake backend), `training` (version 0 in a store, pairs
labelled by a hidden rule).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import rankings
from app.domain.store import ModelStore
from app.models import (
    Assignment,
    Comparison,
    Completion,
    Demonstration,
    Pair,
    PolicyVersion,
    Project,
    ProjectMember,
    Prompt,
    User,
    UserRole,
    utcnow,
)
from app.prompts.importer import content_hash

__all__ = [
    "compare",
    "completion_pair",
    "demonstration",
    "head_to_head_pair",
    "judgements",
    "lease",
    "make_evaluator",
    "make_pair",
    "make_pairs",
    "make_project",
    "make_prompt",
    "make_version",
    "ranking_task",
]

_seq = itertools.count(1)


def make_project(db: Session, name: str | None = None, **fields: Any) -> Project:
    project = Project(name=name or f"project-{next(_seq)}", **fields)
    db.add(project)
    db.flush()
    return project


def make_evaluator(db: Session, project: Project, name: str | None = None) -> User:
    """An evaluator member without the cost of hashing a password (tests make many)."""
    user = User(username=name or f"eval{next(_seq)}", password_hash="!unusable")
    user.role_rows.append(UserRole(role="evaluator"))
    db.add(user)
    db.flush()
    db.add(ProjectMember(project_id=project.id, user_id=user.id))
    db.flush()
    return user


def make_prompt(
    db: Session,
    project: Project,
    text: str | None = None,
    *,
    messages: list[dict[str, Any]] | None = None,
    tags: list[str] | None = None,
    priority: int = 0,
    active: bool = True,
    held_out: bool = False,
) -> Prompt:
    """A prompt hashed as the importer hashes it; the same content twice is the same row."""
    text = text or f"Prompt number {next(_seq)}?"
    digest = content_hash(text, messages)
    found = db.scalar(
        select(Prompt).where(Prompt.project_id == project.id, Prompt.content_hash == digest)
    )
    if found is not None:
        return found
    row = Prompt(
        project_id=project.id,
        text=text,
        messages=messages,
        content_hash=digest,
        tags=tags or [],
        priority=priority,
        active=active,
        held_out=held_out,
    )
    db.add(row)
    db.flush()
    return row


def make_version(
    db: Session, project: Project, number: int = 0, uri: str | None = None, status: str = "active"
) -> PolicyVersion:
    """Version `number` of the project (found if it exists); a new active one archives the
    version that was active."""
    found = db.scalar(
        select(PolicyVersion).where(
            PolicyVersion.project_id == project.id, PolicyVersion.number == number
        )
    )
    if found is not None:
        return found
    if status == "active":
        for old in db.scalars(
            select(PolicyVersion).where(
                PolicyVersion.project_id == project.id, PolicyVersion.status == "active"
            )
        ):
            old.status = "archived"
    row = PolicyVersion(
        project_id=project.id,
        number=number,
        checkpoint_uri=uri or ModelStore.policy_uri(project.id, number),
        base_model="tiny",
        status=status,
    )
    db.add(row)
    db.flush()
    return row


def completion_pair(
    db: Session,
    project: Project,
    prompt: Prompt,
    version_a: PolicyVersion,
    text_a: str,
    text_b: str,
    *,
    version_b: PolicyVersion | None = None,
    **pair_fields: Any,
) -> Pair:
    """Completion a by `version_a`, b by `version_b` (default: the same version), and their
    pair, owned by b's version; `pair_fields` set other Pair columns (kind, status, ...)."""
    version_b = version_b or version_a
    a = Completion(prompt_id=prompt.id, policy_version_id=version_a.id, text=text_a)
    b = Completion(prompt_id=prompt.id, policy_version_id=version_b.id, text=text_b)
    db.add_all([a, b])
    db.flush()
    pair = Pair(
        project_id=project.id,
        prompt_id=prompt.id,
        completion_a_id=a.id,
        completion_b_id=b.id,
        policy_version_id=version_b.id,
        **pair_fields,
    )
    db.add(pair)
    db.flush()
    return pair


def make_pair(
    db: Session,
    project: Project,
    *,
    text_a: str | None = None,
    text_b: str | None = None,
    prompt: Prompt | None = None,
    **fields: Any,
) -> Pair:
    """A pair of two fresh completions by version 0; `fields` set Pair columns (kind, margin,
    labels_required: the project's overlap unless given, ...)."""
    prompt = prompt or make_prompt(db, project)
    n = next(_seq)
    fields.setdefault("labels_required", project.overlap)
    return completion_pair(
        db,
        project,
        prompt,
        make_version(db, project),
        text_a or f"answer A{n}",
        text_b or f"answer B{n}",
        **fields,
    )


def make_pairs(db: Session, project: Project, n: int, **fields: Any) -> list[Pair]:
    return [make_pair(db, project, **fields) for _ in range(n)]


def head_to_head_pair(
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
    on = on or make_prompt(db, project)
    return completion_pair(
        db, project, on, version_a, text_a, text_b, version_b=version_b, kind=kind
    )


def lease(db: Session, pr: Pair, user: User, *, left: str = "a") -> Assignment:
    row = Assignment(
        pair_id=pr.id,
        user_id=user.id,
        status="leased",
        left_side=left,
        expires_at=utcnow() + timedelta(minutes=15),
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
    """`user`'s submitted judgement of `pr` (choice in completion a/b terms), counted on it."""
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
        idempotency_key=f"k{next(_seq)}-{pr.id}-{user.id}",
        is_gold=pr.kind == "gold",
        created_at=at or utcnow(),
    )
    db.add(row)
    pr.labels_received += 1
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
        pair = head_to_head_pair(db, project, version_a, version_b, kind=kind)
        compare(db, pair, user, names[letter])


def demonstration(
    db: Session,
    prompt: Prompt,
    user_id: int,
    text: str,
    *,
    pair: Pair | None = None,
    **fields: Any,
) -> Demonstration:
    """`user_id`'s written answer to `prompt` (on `pair` when given); `fields` set other
    columns (status, source_completion_id, ...)."""
    demo = Demonstration(
        project_id=prompt.project_id,
        prompt_id=prompt.id,
        user_id=user_id,
        pair_id=pair.id if pair else None,
        text=text,
        **fields,
    )
    db.add(demo)
    db.flush()
    return demo


def ranking_task(
    db: Session,
    project: Project,
    prompt: Prompt,
    version: PolicyVersion,
    texts: list[str],
    *,
    gold_ranks: list[int] | None = None,
    **pair_fields: Any,
) -> Pair:
    """A ranking task over one completion per text (the first two are the pair's a and b)."""
    pair = completion_pair(db, project, prompt, version, texts[0], texts[1], **pair_fields)
    extra = [
        Completion(prompt_id=prompt.id, policy_version_id=version.id, text=t) for t in texts[2:]
    ]
    db.add_all(extra)
    db.flush()
    completions = [
        db.get_one(Completion, pair.completion_a_id),
        db.get_one(Completion, pair.completion_b_id),
        *extra,
    ]
    rankings.add_items(db, pair, completions, gold_ranks or ())
    return pair
