"""Storing imported prompts, the paginated prompt list, edits, deactivation, holding out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.domain.project_settings import settings_of
from app.models import Comparison, Pair, Project, Prompt
from app.prompts.importer import Parsed, Problem, PromptRecord, parse_tags

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
    held_out: int = 0  # of the added prompts, how many are held out

    @property
    def skipped(self) -> int:
        return len(self.duplicates)


def stored_hashes(db: Session, project_id: int, hashes: list[str]) -> dict[str, int]:
    """Prompt ids by content hash, for the hashes already stored in the project."""
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


def held_out_by_share(content_hash: str, share: float) -> bool:
    """Whether a new prompt falls in the project's held-out share.

    Decided by the prompt's content hash, so the same prompt always gets the same answer,
    whatever the file it comes in or its order there, and on average `share` of them do.
    """
    return int(content_hash[:8], 16) / 0x1_0000_0000 < share


def _held_out(record: PromptRecord, share: float) -> bool:
    if record.held_out is not None:
        return record.held_out
    return held_out_by_share(record.content_hash, share)


def import_prompts(
    db: Session, project: Project, parsed: Parsed, *, skip_bad: bool, actor_id: int | None
) -> ImportSummary:
    """Store the valid records; any bad record blocks the whole file unless `skip_bad`."""
    summary = ImportSummary(parsed.unit, rejected=list(parsed.problems))
    if parsed.problems and not skip_bad:
        return summary
    stored = stored_hashes(db, project.id, [r.content_hash for r in parsed.records])
    share = settings_of(project).held_out_share
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
                "held_out": _held_out(record, share),
                "meta": record.meta,
                "external_id": record.external_id,
            }
        )
    for i in range(0, len(rows), INSERT_CHUNK):
        db.execute(insert(Prompt), rows[i : i + INSERT_CHUNK])
    summary.added = len(rows)
    summary.held_out = sum(1 for r in rows if r["held_out"])
    summary.imported = True
    audit(
        db,
        "prompts.imported",
        actor_id,
        f"project:{project.id}",
        added=summary.added,
        held_out=summary.held_out,
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
    held_out: bool | None = None
    meta: str = ""  # "key=value" (that metadata value) or "key" (has that metadata)
    external_id: str = ""


def meta_condition(spec: str) -> ColumnElement[bool] | None:
    """Prompts whose metadata matches `key=value` (as text) or has `key`; None for no filter."""
    key, sep, value = spec.partition("=")
    key, value = key.strip(), value.strip()
    if not key:
        return None
    field = Prompt.meta[key].as_string()
    return field == value if sep else field.isnot(None)


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
            .where(Pair.prompt_id.in_(ids), Comparison.live)
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
    if filt.held_out is not None:
        stmt = stmt.where(Prompt.held_out.is_(filt.held_out))
    if (matches := meta_condition(filt.meta)) is not None:
        stmt = stmt.where(matches)
    if filt.external_id.strip():
        stmt = stmt.where(Prompt.external_id == filt.external_id.strip())
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


class PromptSelectionError(ValueError):
    """No prompt chosen, or ids that are not in the project; nothing was changed."""

    field = "prompt_ids"


MAX_BULK = 1000


def set_held_out(
    db: Session, project: Project, prompt_ids: list[int], held_out: bool, actor_id: int | None
) -> tuple[int, int]:
    """Hold prompts out for evaluation (or return them to labelling and training).

    A held-out prompt is never sampled and never trains, so its open live and head-to-head
    pairs are retired (labels already given stay, and stay out of training). Returns
    (prompts changed, pairs retired); unknown ids change nothing and raise.
    """
    ids = sorted(set(prompt_ids))
    if not ids:
        raise PromptSelectionError("Select at least one prompt.")
    if len(ids) > MAX_BULK:
        raise PromptSelectionError(f"At most {MAX_BULK} prompts at a time.")
    found = set(
        db.scalars(select(Prompt.id).where(Prompt.project_id == project.id, Prompt.id.in_(ids)))
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise PromptSelectionError(f"No prompt #{missing[0]} in project {project.name!r}.")
    changed = db.execute(
        update(Prompt)
        .where(Prompt.id.in_(ids), Prompt.held_out.is_(not held_out))
        .values(held_out=held_out)
    )
    retired = 0
    if held_out:
        result = db.execute(
            update(Pair)
            .where(
                Pair.prompt_id.in_(ids),
                Pair.status == "open",
                Pair.kind.in_(("live", "head_to_head")),
            )
            .values(status="retired")
        )
        retired = int(result.rowcount or 0)  # type: ignore[attr-defined]
    count = int(changed.rowcount or 0)  # type: ignore[attr-defined]
    action = "prompts.held_out" if held_out else "prompts.returned"
    audit(db, action, actor_id, f"project:{project.id}", prompts=ids, retired_pairs=retired)
    return count, retired
