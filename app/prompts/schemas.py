"""API shapes for prompts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.prompts.importer import Problem
from app.prompts.service import MAX_BULK, ImportSummary, PromptRow


class ProblemOut(BaseModel):
    line: int
    reason: str


class ImportSummaryOut(BaseModel):
    unit: str
    imported: bool
    added: int
    skipped: int
    rejected: int
    held_out: int = Field(description="Of the added prompts, how many are held out.")
    duplicates: list[ProblemOut]
    problems: list[ProblemOut]

    @classmethod
    def of(cls, s: ImportSummary) -> ImportSummaryOut:
        def conv(items: list[Problem]) -> list[ProblemOut]:
            return [ProblemOut(line=p.line, reason=p.reason) for p in items]

        return cls(
            unit=s.unit,
            imported=s.imported,
            added=s.added,
            skipped=s.skipped,
            rejected=len(s.rejected),
            held_out=s.held_out,
            duplicates=conv(s.duplicates),
            problems=conv(s.rejected),
        )


class PromptOut(BaseModel):
    id: int
    project_id: int
    text: str
    messages: list[dict[str, Any]] | None
    tags: list[str]
    priority: int
    active: bool
    held_out: bool = Field(description="Kept for evaluation: never labelled, never trained on.")
    meta: dict[str, Any] = Field(
        default_factory=dict, description="The import's other columns, as given."
    )
    external_id: str | None = None
    created_at: datetime
    pairs: int
    labels: int

    @classmethod
    def of(cls, row: PromptRow) -> PromptOut:
        p = row.prompt
        return cls(
            id=p.id,
            project_id=p.project_id,
            text=p.text,
            messages=p.messages,
            tags=list(p.tags),
            priority=p.priority,
            active=p.active,
            held_out=p.held_out,
            meta=dict(p.meta or {}),
            external_id=p.external_id,
            created_at=p.created_at,
            pairs=row.pairs,
            labels=row.labels,
        )


class PromptPageOut(BaseModel):
    items: list[PromptOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class PromptUpdate(BaseModel):
    tags: list[str] | None = None
    priority: int | None = Field(None, ge=-1_000_000, le=1_000_000)
    held_out: bool | None = Field(None, description="Hold out for evaluation, or return it.")


class HeldOutIn(BaseModel):
    prompt_ids: list[int] = Field(min_length=1, max_length=MAX_BULK)
    held_out: bool = Field(description="True: hold these prompts out; false: return them.")
    project: int | None = Field(None, description="The project; default: your first one.")


class HeldOutResult(BaseModel):
    changed: int = Field(description="Prompts whose state changed.")
    retired_pairs: int = Field(description="Open pairs of newly held-out prompts, retired.")
