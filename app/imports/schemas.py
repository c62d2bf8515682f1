"""API shapes for imported preference data."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.imports.service import ImportOutcome
from app.models import PreferenceImport
from app.prompts.schemas import ProblemOut


class ImportBatchOut(BaseModel):
    id: int
    project_id: int
    source: str
    filename: str
    status: str
    rows: int
    rejected: int
    prompts_added: int
    created_at: datetime
    reverted_at: datetime | None

    @classmethod
    def of(cls, b: PreferenceImport) -> ImportBatchOut:
        return cls(
            id=b.id,
            project_id=b.project_id,
            source=b.source,
            filename=b.filename,
            status=b.status,
            rows=b.rows,
            rejected=b.rejected,
            prompts_added=b.prompts_added,
            created_at=b.created_at,
            reverted_at=b.reverted_at,
        )


class ImportOutcomeOut(BaseModel):
    unit: str
    imported: bool
    stored: int
    prompts_added: int
    problems: list[ProblemOut]
    batch: ImportBatchOut | None

    @classmethod
    def of(cls, o: ImportOutcome) -> ImportOutcomeOut:
        return cls(
            unit=o.unit,
            imported=o.imported,
            stored=o.stored,
            prompts_added=o.prompts_added,
            problems=[ProblemOut(line=p.line, reason=p.reason) for p in o.rejected],
            batch=ImportBatchOut.of(o.batch) if o.batch else None,
        )


class RevertOut(BaseModel):
    removed: int
    batch: ImportBatchOut
