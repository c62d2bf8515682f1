"""Storing an imported preference file as a batch, listing batches, reverting one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from app.domain.audit import audit
from app.imports.records import ParsedPreferences
from app.models import ImportedComparison, Pair, PreferenceImport, Project, Prompt, utcnow
from app.prompts.importer import Problem
from app.prompts.service import stored_hashes
from app.vocabulary import ImportStatus

INSERT_CHUNK = 1000
SOURCE_MAX = 200


class ImportNotRevertable(ValueError):
    """The batch was reverted already."""


@dataclass
class ImportOutcome:
    unit: str
    rejected: list[Problem] = field(default_factory=list)
    batch: PreferenceImport | None = None  # None when bad rows blocked the whole file
    stored: int = 0
    prompts_added: int = 0

    @property
    def imported(self) -> bool:
        return self.batch is not None


def clean_source(source: str, filename: str) -> str:
    """The batch's source label: as given, else the file name."""
    label = " ".join(source.split()) or filename or "import"
    return label[:SOURCE_MAX]


def import_preferences(
    db: Session,
    project: Project,
    parsed: ParsedPreferences,
    *,
    source: str,
    filename: str,
    skip_bad: bool,
    actor_id: int | None,
    progress: Callable[[int], None] | None = None,
) -> ImportOutcome:
    """Store the valid rows as one batch; any bad row blocks the whole file unless `skip_bad`."""
    outcome = ImportOutcome(parsed.unit, rejected=list(parsed.problems))
    if parsed.problems and not skip_bad:
        return outcome
    batch = PreferenceImport(
        project_id=project.id,
        source=clean_source(source, filename),
        filename=filename[:500],
        status=ImportStatus.active,
        rows=len(parsed.records),
        rejected=len(parsed.problems),
        created_by_id=actor_id,
    )
    db.add(batch)
    db.flush()
    prompt_ids = stored_hashes(db, project.id, [r.content_hash for r in parsed.records])
    added: set[int] = set()
    new_prompts = {}
    for r in parsed.records:
        if r.content_hash not in prompt_ids and r.content_hash not in new_prompts:
            new_prompts[r.content_hash] = r
    # Prompts the file brings are stored inactive: the sampler never draws them, and the
    # revert removes them again unless something else came to use them.
    for created in _insert_prompts(db, project, batch, list(new_prompts.values())):
        prompt_ids[created.content_hash] = created.id
        added.add(created.id)
    rows: list[dict[str, Any]] = []
    for record in parsed.records:
        pid = prompt_ids[record.content_hash]
        rows.append(
            {
                "project_id": project.id,
                "batch_id": batch.id,
                "prompt_id": pid,
                "prompt_added": pid in added,
                "line": record.line,
                "format": record.format,
                "response_a": record.response_a,
                "response_b": record.response_b,
                "choice": record.choice,
                "strength": record.strength,
            }
        )
    for i in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[i : i + INSERT_CHUNK]
        db.execute(insert(ImportedComparison), chunk)
        if progress is not None:
            progress(len(chunk))
    batch.prompts_added = len(added)
    outcome.batch, outcome.stored, outcome.prompts_added = batch, len(rows), len(added)
    audit(
        db,
        "preferences.imported",
        actor_id,
        f"preference_import:{batch.id}",
        project_id=project.id,
        source=batch.source,
        rows=len(rows),
        rejected=len(parsed.problems),
        prompts_added=len(added),
    )
    return outcome


def _insert_prompts(
    db: Session, project: Project, batch: PreferenceImport, records: list[Any]
) -> list[Prompt]:
    prompts = [
        Prompt(
            project_id=project.id,
            text=r.prompt_text,
            messages=r.prompt_messages,
            content_hash=r.content_hash,
            tags=[],
            active=False,
            meta={"imported_from": batch.source},
        )
        for r in records
    ]
    db.add_all(prompts)
    db.flush()
    return prompts


def list_imports(db: Session, project_id: int, limit: int = 100) -> list[PreferenceImport]:
    """The project's batches, newest first."""
    stmt = (
        select(PreferenceImport)
        .where(PreferenceImport.project_id == project_id)
        .order_by(PreferenceImport.id.desc())
        .limit(limit)
    )
    return list(db.scalars(stmt))


def revert_import(db: Session, batch: PreferenceImport, actor_id: int | None) -> int:
    """Delete the batch's rows, and the prompts it added that nothing else uses; returns rows."""
    if batch.status == ImportStatus.reverted:
        raise ImportNotRevertable(f"import #{batch.id} was reverted already")
    added = select(ImportedComparison.prompt_id).where(
        ImportedComparison.batch_id == batch.id, ImportedComparison.prompt_added.is_(True)
    )
    candidates = set(db.scalars(added.distinct()))
    result = db.execute(delete(ImportedComparison).where(ImportedComparison.batch_id == batch.id))
    removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    prompts_removed = 0
    if candidates:
        used_by_pairs = exists().where(Pair.prompt_id == Prompt.id)
        used_by_imports = exists().where(ImportedComparison.prompt_id == Prompt.id)
        gone = db.execute(
            delete(Prompt)
            .where(Prompt.id.in_(candidates), ~used_by_pairs, ~used_by_imports)
            .execution_options(synchronize_session=False)
        )
        prompts_removed = int(gone.rowcount or 0)  # type: ignore[attr-defined]
    db.execute(
        update(PreferenceImport)
        .where(PreferenceImport.id == batch.id)
        .values(status=ImportStatus.reverted, reverted_at=utcnow(), reverted_by_id=actor_id)
    )
    db.refresh(batch)
    audit(
        db,
        "preferences.import_reverted",
        actor_id,
        f"preference_import:{batch.id}",
        project_id=batch.project_id,
        rows=removed,
        prompts_removed=prompts_removed,
    )
    return removed
