"""Training data: version 0 in a temp store, pairs labelled by a hidden rule."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.orm import Session

from app.domain.store import ModelStore
from app.models import Pair, PolicyVersion, Project, User, utcnow
from tests.factories import compare, completion_pair, make_prompt


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


def labelled_pairs(
    db: Session, project: Project, version: PolicyVersion, user: User, n: int, *, prompts: int = 4
) -> list[Pair]:
    """`n` pairs over `prompts` prompts; the hidden rule: the polite answer wins."""
    made = [make_prompt(db, project, f"Question number {i}?") for i in range(prompts)]
    pairs = []
    for i in range(n):
        prompt = made[i % prompts]
        polite = f"Thank you for asking! The answer is {i}."
        rude = f"Whatever. {i}."
        a_polite = i % 2 == 0
        pair = completion_pair(
            db, project, prompt, version, *((polite, rude) if a_polite else (rude, polite))
        )
        compare(db, pair, user, "a" if a_polite else "b")
        pairs.append(pair)
    return pairs
