"""Admin page: import preference data from a file, list the batches, revert one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.deps import Admin, DbDep, SettingsDep
from app.imports.deps import get_batch
from app.imports.records import ParsedPreferences
from app.imports.service import ImportOutcome, import_preferences, list_imports, revert_import
from app.imports.uploads import parse_upload
from app.models import Project
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep
from app.projects.service import visible_projects
from app.prompts.importer import ImportFileError
from app.web import redirect, render

router = APIRouter(prefix="/admin/imports", tags=["imports"], include_in_schema=False)


def _context(db: Session, principal: Admin, project: Project) -> dict[str, object]:
    return {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "batches": list_imports(db, project.id),
    }


@router.get("")
def import_page(request: Request, db: DbDep, principal: Admin, proj: ChosenProjectDep) -> Response:
    return render(request, "admin/imports.html", _context(db, principal, proj))


@router.post("")
async def import_upload(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    file: UploadFile,
    proj: ChosenProjectFormDep,
    source: Annotated[str, Form(max_length=200)] = "",
    skip_bad: Annotated[bool, Form()] = False,
) -> Response:
    outcome: ImportOutcome | None = None
    error = ""
    name = file.filename or "upload"
    try:
        parsed: ParsedPreferences = await parse_upload(file, settings)
        outcome = import_preferences(
            db,
            proj,
            parsed,
            source=source,
            filename=name,
            skip_bad=skip_bad,
            actor_id=principal.user.id,
        )
    except ImportFileError as exc:
        error = f"{name}: {exc}"
    ctx = {**_context(db, principal, proj), "outcome": outcome, "error": error, "filename": name}
    status = 200 if outcome is not None and outcome.imported else 422
    return render(request, "admin/imports.html", ctx, status_code=status)


@router.post("/{batch_id}/revert")
def import_revert(request: Request, db: DbDep, principal: Admin, batch_id: int) -> Response:
    batch = get_batch(db, principal, batch_id)
    revert_import(db, batch, principal.user.id)
    return redirect(request, f"/admin/imports?project={batch.project_id}")
