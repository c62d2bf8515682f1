"""Builders for training tests: labelled pairs, version 0 in a temp store."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from pathlib import Path

from sqlalchemy.orm import Session

from app.domain.store import ModelStore
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

_seq = itertools.count(1)


def add_prompt(db: Session, project: Project, text: str, *, held_out: bool = False) -> Prompt:
    prompt = Prompt(
        project_id=project.id,
        text=text,
        content_hash=hashlib.sha256(f"{text}-{next(_seq)}".encode()).hexdigest(),
        held_out=held_out,
    )
    db.add(prompt)
    db.flush()
    return prompt


def version_zero(
    db: Session, project: Project, store_root: Path, policy_dir: Path
) -> PolicyVersion:
    """Version 0, active, whose checkpoint is a copy of `policy_dir` in the store."""
    store = ModelStore(store_root)
    uri = store.policy_uri(project.id, 0)
    target = store.path(uri)
    if not target.exists():
        shutil.copytree(policy_dir, target)
    version = PolicyVersion(
        project_id=project.id,
        number=0,
        checkpoint_uri=uri,
        base_model="tiny",
        status="active",
        promoted_at=utcnow(),
    )
    db.add(version)
    db.flush()
    return version


def add_pair(
    db: Session,
    project: Project,
    prompt: Prompt,
    version: PolicyVersion,
    text_a: str,
    text_b: str,
    *,
    kind: str = "live",
    gold_choice: str | None = None,
) -> Pair:
    return completion_pair(
        db, project, prompt, version, text_a, text_b, kind=kind, gold_choice=gold_choice
    )


def label(
    db: Session, pair: Pair, user: User, choice: str, strength: str | None = "clear"
) -> Comparison:
    assignment = Assignment(
        pair_id=pair.id, user_id=user.id, status="submitted", expires_at=utcnow()
    )
    db.add(assignment)
    db.flush()
    comparison = Comparison(
        project_id=pair.project_id,
        pair_id=pair.id,
        user_id=user.id,
        assignment_id=assignment.id,
        choice=choice,
        strength=strength if choice in ("a", "b") else None,
        idempotency_key=f"k{next(_seq)}-{pair.id}-{user.id}",
    )
    db.add(comparison)
    pair.labels_received += 1
    db.flush()
    return comparison


def labelled_pairs(
    db: Session, project: Project, version: PolicyVersion, user: User, n: int, *, prompts: int = 4
) -> list[Pair]:
    """`n` pairs over `prompts` prompts; the hidden rule: the polite answer wins."""
    made = [add_prompt(db, project, f"Question number {i}?") for i in range(prompts)]
    pairs = []
    for i in range(n):
        prompt = made[i % prompts]
        polite = f"Thank you for asking! The answer is {i}."
        rude = f"Whatever. {i}."
        a_polite = i % 2 == 0
        pair = add_pair(
            db, project, prompt, version, *((polite, rude) if a_polite else (rude, polite))
        )
        label(db, pair, user, "a" if a_polite else "b")
        pairs.append(pair)
    return pairs
