"""The import API: upload a preference file, list the batches, revert one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, UploadFile

from app.api.errors import ApiProblem, field_errors
from app.deps import Admin, DbDep, SettingsDep
from app.imports.deps import get_batch
from app.imports.schemas import ImportBatchOut, ImportOutcomeOut, RevertOut
from app.imports.service import import_preferences, list_imports, revert_import
from app.imports.uploads import parse_upload
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep

router = APIRouter(prefix="/imports", tags=["imports"])


@router.get("", response_model=list[ImportBatchOut])
def api_list(db: DbDep, principal: Admin, proj: ChosenProjectDep) -> list[ImportBatchOut]:
    return [ImportBatchOut.of(b) for b in list_imports(db, proj.id)]


@router.post("", response_model=ImportOutcomeOut)
async def api_import(
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    file: UploadFile,
    proj: ChosenProjectFormDep,
    source: Annotated[str, Form(max_length=200)] = "",
    skip_bad: Annotated[bool, Form()] = False,
) -> ImportOutcomeOut:
    """TRL preference rows or response_a/response_b/choice rows; 422 naming every bad row
    (`field` = its line or row) when nothing was imported."""
    parsed = await parse_upload(file, settings)
    outcome = import_preferences(
        db,
        proj,
        parsed,
        source=source,
        filename=file.filename or "upload",
        skip_bad=skip_bad,
        actor_id=principal.user.id,
    )
    if not outcome.imported:
        raise ApiProblem(
            422,
            "Nothing was imported.",
            errors=field_errors((f"{parsed.unit} {p.line}", p.reason) for p in parsed.problems),
        )
    return ImportOutcomeOut.of(outcome)


@router.post("/{batch_id}/revert", response_model=RevertOut)
def api_revert(db: DbDep, principal: Admin, batch_id: int) -> RevertOut:
    """Take the batch's rows out of training and the export (the batch stays, reverted)."""
    batch = get_batch(db, principal, batch_id)
    removed = revert_import(db, batch, principal.user.id)
    return RevertOut(removed=removed, batch=ImportBatchOut.of(batch))
