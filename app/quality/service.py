"""Gold pairs (marked or imported with their known answer) and annotator exclusion."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import versions
from app.domain.audit import audit
from app.domain.preferences import excluded_annotators
from app.domain.project_settings import settings_of, update_settings
from app.models import Completion, Pair, Project, Prompt, User
from app.models.labeling import CHOICES
from app.prompts.importer import Problem, PromptRecord, validate
from app.quality.figures import figures_changed


class QualityError(ValueError):
    """Bad input for a quality control; the message is shown to the admin."""


def mark_gold(db: Session, pair: Pair, answer: str | None, actor_id: int) -> None:
    """Make a pair gold with its known answer, or (answer None) a live pair again."""
    if answer is not None and answer not in CHOICES:
        raise QualityError(f"The answer must be one of {', '.join(CHOICES)}.")
    if pair.kind == "head_to_head" and answer is not None:
        raise QualityError("Head-to-head pairs measure versions; they cannot be gold.")
    pair.kind = "gold" if answer else "live"
    pair.gold_choice = answer
    figures_changed(db, pair.project_id)
    audit(db, "pair.gold", actor_id, f"pair:{pair.id}", answer=answer)


@dataclass
class GoldImport:
    added: int = 0
    problems: list[Problem] = field(default_factory=list)


def _gold_line(number: int, obj: object, max_chars: int) -> tuple[dict[str, str], PromptRecord]:
    if not isinstance(obj, dict):
        raise ValueError("each record must be a JSON object")
    for key in ("response_a", "response_b", "answer"):
        if key not in obj:
            raise ValueError(f"missing field: `{key}`")
    a, b, answer = obj["response_a"], obj["response_b"], obj["answer"]
    if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
        raise ValueError("empty text in `response_a` or `response_b`")
    if a == b:
        raise ValueError("`response_a` and `response_b` are identical")
    if answer not in CHOICES:
        raise ValueError(f"`answer` must be one of {', '.join(CHOICES)}")
    record = validate(number, {k: obj.get(k) for k in ("prompt", "messages", "tags")}, max_chars)
    return {"a": a, "b": b, "answer": answer}, record


def import_gold(
    db: Session, project: Project, data: bytes, max_chars: int, actor_id: int | None
) -> GoldImport:
    """JSONL of {prompt|messages, response_a, response_b, answer}; all or nothing."""
    result = GoldImport()
    parsed = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
            parsed.append(_gold_line(number, obj, max_chars))
        except UnicodeDecodeError:
            result.problems.append(Problem(number, "wrong encoding: not valid UTF-8"))
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(number, f"bad JSON: {exc.msg}"))
        except ValueError as exc:
            result.problems.append(Problem(number, str(exc)))
    if result.problems or not parsed:
        if not parsed and not result.problems:
            result.problems.append(Problem(1, "the file holds no records"))
        return result
    version = versions.current_or_zero(db, project)
    for answers, record in parsed:
        prompt = db.scalar(
            select(Prompt).where(
                Prompt.project_id == project.id, Prompt.content_hash == record.content_hash
            )
        )
        if prompt is None:
            prompt = Prompt(
                project_id=project.id,
                text=record.text,
                messages=record.messages,
                content_hash=record.content_hash,
                tags=record.tags,
            )
            db.add(prompt)
            db.flush()
        ca = Completion(prompt_id=prompt.id, policy_version_id=version.id, text=answers["a"])
        cb = Completion(prompt_id=prompt.id, policy_version_id=version.id, text=answers["b"])
        db.add_all([ca, cb])
        db.flush()
        db.add(
            Pair(
                project_id=project.id,
                prompt_id=prompt.id,
                completion_a_id=ca.id,
                completion_b_id=cb.id,
                policy_version_id=version.id,
                kind="gold",
                gold_choice=answers["answer"],
                labels_required=project.overlap,
            )
        )
        result.added += 1
    db.flush()
    figures_changed(db, project.id)
    audit(db, "gold.imported", actor_id, f"project:{project.id}", added=result.added)
    return result


def set_excluded(db: Session, project: Project, user: User, excluded: bool, actor_id: int) -> None:
    """Exclude (or re-include) an annotator's labels from training and export."""
    ids = [u for u in settings_of(project).excluded_annotators if u != user.id]
    if excluded:
        ids.append(user.id)
    update_settings(project, excluded_annotators=sorted(ids))
    action = "annotator.excluded" if excluded else "annotator.included"
    audit(db, action, actor_id, f"user:{user.id}", project=project.id)


def excluded_users(db: Session, project: Project) -> list[User]:
    ids = excluded_annotators(project)
    return list(db.scalars(select(User).where(User.id.in_(ids)))) if ids else []
