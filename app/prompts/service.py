"""Storing imported prompts, the paginated prompt list, edits and deactivation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.models import Comparison, Pair, Project, Prompt
from app.prompts.importer import Parsed, Problem, parse_tags

INSERT_CHUNK = 1000
LOOKUP_CHUNK = 500
PAGE_SIZE_MAX = 200


@dataclass
class ImportSummary:
    unit: str
    added: int = 0
    duplicates: list[Problem] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    imported: bool = False  # False when bad records blocked the whole file

    @property
    def skipped(self) -> int:
        return len(self.duplicates)


def _stored_hashes(db: Session, project_id: int, hashes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = hashes[i : i + LOOKUP_CHUNK]
        rows = db.execute(
            select(Prompt.content_hash, Prompt.id).where(
                Prompt.project_id == project_id, Prompt.content_hash.in_(chunk)
            )
        )
        found.update({h: pid for h, pid in rows})
    return found


def import_prompts(
    db: Session, project: Project, parsed: Parsed, *, skip_bad: bool, actor_id: int | None
) -> ImportSummary:
    """Store the valid records; any bad record blocks the whole file unless `skip_bad`."""
    summary = ImportSummary(parsed.unit, rejected=list(parsed.problems))
    if parsed.problems and not skip_bad:
        return summary
    stored = _stored_hashes(db, project.id, [r.content_hash for r in parsed.records])
    first_line: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for record in parsed.records:
        if record.content_hash in stored:
            reason = f"duplicate: already stored as prompt #{stored[record.content_hash]}"
            summary.duplicates.append(Problem(record.line, reason))
            continue
        if record.content_hash in first_line:
            reason = f"duplicate of {parsed.unit} {first_line[record.content_hash]}"
            summary.duplicates.append(Problem(record.line, reason))
            continue
        first_line[record.content_hash] = record.line
        rows.append(
            {
                "project_id": project.id,
                "text": record.text,
                "messages": record.messages,
                "content_hash": record.content_hash,
                "tags": record.tags,
                "priority": record.priority,
            }
        )
    for i in range(0, len(rows), INSERT_CHUNK):
        db.execute(insert(Prompt), rows[i : i + INSERT_CHUNK])
    summary.added = len(rows)
    summary.imported = True
    audit(
        db,
        "prompts.imported",
        actor_id,
        f"project:{project.id}",
        added=summary.added,
        skipped=summary.skipped,
        rejected=len(summary.rejected),
    )
    return summary


@dataclass(frozen=True)
class PromptFilter:
    q: str = ""
    tag: str = ""
    active: bool | None = None
    priority_min: int | None = None


@dataclass
class PromptRow:
    prompt: Prompt
    pairs: int
    labels: int


@dataclass
class PromptPage:
    rows: list[PromptRow]
    next_before: int | None  # keyset cursor: the id to continue below


def like_pattern(value: str) -> str:
    """A LIKE pattern matching `value` anywhere (use with `escape="\\"`)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def counts(db: Session, ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Pairs and labels per prompt, for the given prompts only."""
    if not ids:
        return {}, {}
    pairs = dict(
        db.execute(  # type: ignore[arg-type]
            select(Pair.prompt_id, func.count())
            .where(Pair.prompt_id.in_(ids))
            .group_by(Pair.prompt_id)
        ).all()
    )
    labels = dict(
        db.execute(  # type: ignore[arg-type]
            select(Pair.prompt_id, func.count(Comparison.id))
            .join(Comparison, Comparison.pair_id == Pair.id)
            .where(Pair.prompt_id.in_(ids))
            .group_by(Pair.prompt_id)
        ).all()
    )
    return pairs, labels


def list_prompts(
    db: Session, project_id: int, filt: PromptFilter, *, before: int | None, limit: int = 50
) -> PromptPage:
    """One page, newest first, keyset-paginated on id; counts only for the visible page."""
    limit = max(1, min(limit, PAGE_SIZE_MAX))
    stmt = select(Prompt).where(Prompt.project_id == project_id)
    if before is not None:
        stmt = stmt.where(Prompt.id < before)
    if filt.q.strip():
        if db.get_bind().dialect.name == "postgresql":
            # A plan cached for any pattern (psycopg prepares a statement on its 6th run)
            # reads prompts newest first and filters them: a scan of all of them for a rare
            # word. Planned for the actual pattern, the trigram index finds the few matches.
            db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        stmt = stmt.where(Prompt.text.ilike(like_pattern(filt.q.strip()), escape="\\"))
    if filt.tag.strip():
        # Tags are a JSON list; its text holds each tag JSON-quoted, e.g. ["code", "math"].
        quoted = json.dumps(filt.tag.strip())
        stmt = stmt.where(cast(Prompt.tags, String).like(like_pattern(quoted), escape="\\"))
    if filt.active is not None:
        stmt = stmt.where(Prompt.active.is_(filt.active))
    if filt.priority_min is not None:
        stmt = stmt.where(Prompt.priority >= filt.priority_min)
    prompts = list(db.scalars(stmt.order_by(Prompt.id.desc()).limit(limit + 1)))
    more = len(prompts) > limit
    prompts = prompts[:limit]
    ids = [p.id for p in prompts]
    pairs, labels = counts(db, ids)
    rows = [PromptRow(p, pairs.get(p.id, 0), labels.get(p.id, 0)) for p in prompts]
    return PromptPage(rows, ids[-1] if more else None)


def update_prompt(
    db: Session, prompt: Prompt, *, tags: Any, priority: int | None, actor_id: int | None
) -> None:
    """Replace the tags and/or priority; raises ValueError for bad tags."""
    before = {"tags": list(prompt.tags), "priority": prompt.priority}
    if tags is not None:
        prompt.tags = parse_tags(tags)
    if priority is not None:
        prompt.priority = priority
    audit(
        db,
        "prompt.updated",
        actor_id,
        f"prompt:{prompt.id}",
        before=before,
        after={"tags": prompt.tags, "priority": prompt.priority},
    )


def set_active(db: Session, prompt: Prompt, active: bool, actor_id: int | None) -> int:
    """(De)activate a prompt; deactivation retires its open pairs (labels stay). Returns count."""
    prompt.active = active
    retired = 0
    if not active:
        result = db.execute(
            update(Pair)
            .where(Pair.prompt_id == prompt.id, Pair.status == "open")
            .values(status="retired")
        )
        retired = int(result.rowcount or 0)  # type: ignore[attr-defined]
    action = "prompt.activated" if active else "prompt.deactivated"
    audit(db, action, actor_id, f"prompt:{prompt.id}", retired_pairs=retired)
    return retired
