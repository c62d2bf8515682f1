"""The one place test data builds a pair: two completions of a prompt and the pair joining them.

The per-area factory modules (tests/admin/factories.py, tests/labeling/factories.py,
tests/training/factories.py, tests/h2h.py) choose prompts, versions and defaults for their
tests and call this for the rows themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.domain import rankings
from app.models import Completion, Demonstration, Pair, PolicyVersion, Project, Prompt


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
