"""Imported preference data as the preference builder reads it (app/domain/preferences.py).

An imported judgement (app/models/imports.py) is a row of its own: no majority, no gold
answer, no annotator filters. What still applies: held-out prompts never train, the date
window (the import's time) and the tag. The TRL export and training read them as preference
rows (`imported_judgements`), the raw export as they were stored (`imported_records`), both
within `imported_scope`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, select
from sqlalchemy.orm import Session

from app.models import ImportedComparison, PreferenceImport, Project, Prompt

BATCH = 1000


def prompt_has_tag(tag: str) -> ColumnElement[bool]:
    """Prompt.tags holds `tag` (a JSON list, matched as text on every backend)."""
    quoted = json.dumps(tag.strip()).replace("%", "\\%").replace("_", "\\_")
    return cast(Prompt.tags, String).like(f"%{quoted}%", escape="\\")


def imported_scope(
    project: Project, since: datetime | None, until: datetime | None, tag: str
) -> list[ColumnElement[bool]]:
    """Conditions on ImportedComparison (joined with Prompt) a training run and export share."""
    conditions: list[ColumnElement[bool]] = [
        ImportedComparison.project_id == project.id,
        Prompt.held_out.is_(False),
    ]
    if since is not None:
        conditions.append(ImportedComparison.created_at >= since)
    if until is not None:
        conditions.append(ImportedComparison.created_at < until)
    if tag.strip():
        conditions.append(prompt_has_tag(tag))
    return conditions


def imported_judgements(
    db: Session, project: Project, since: datetime | None, until: datetime | None, tag: str
) -> Iterator[Any]:
    """(prompt_id, text, messages, response_a, response_b, choice, strength), in batches."""
    stmt = (
        select(
            ImportedComparison.prompt_id,
            Prompt.text,
            Prompt.messages,
            ImportedComparison.response_a,
            ImportedComparison.response_b,
            ImportedComparison.choice,
            ImportedComparison.strength,
        )
        .join(Prompt, Prompt.id == ImportedComparison.prompt_id)
        .where(*imported_scope(project, since, until, tag))
        .order_by(ImportedComparison.id)
        .execution_options(yield_per=BATCH)
    )
    yield from db.execute(stmt)


def imported_records(
    db: Session,
    project: Project,
    since: datetime | None,
    until: datetime | None,
    tag: str,
    *,
    include_ties: bool = True,
) -> Iterator[Any]:
    """Imported judgements as stored, with their batch (id, source) and line, in batches."""
    stmt = (
        select(
            ImportedComparison.id,
            ImportedComparison.batch_id,
            PreferenceImport.source,
            ImportedComparison.line,
            ImportedComparison.prompt_id,
            ImportedComparison.choice,
            ImportedComparison.strength,
            ImportedComparison.created_at,
            Prompt.external_id,
            Prompt.meta,
        )
        .join(Prompt, Prompt.id == ImportedComparison.prompt_id)
        .join(PreferenceImport, PreferenceImport.id == ImportedComparison.batch_id)
        .where(*imported_scope(project, since, until, tag))
        .order_by(ImportedComparison.id)
        .execution_options(yield_per=BATCH)
    )
    if not include_ties:
        stmt = stmt.where(ImportedComparison.choice.in_(("a", "b")))
    yield from db.execute(stmt)
