"""Admin pages: the prompt list, upload import, edit, deactivate, hold out in bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from app.deps import Admin, DbDep, SettingsDep
from app.domain.project_settings import settings_of
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep, chosen_project
from app.projects.service import visible_projects
from app.prompts.deps import get_prompt
from app.prompts.importer import ImportFileError
from app.prompts.service import (
    ImportSummary,
    PromptFilter,
    list_prompts,
    set_active,
    set_held_out,
    update_prompt,
)
from app.prompts.uploads import import_prompt_upload
from app.web import redirect, render

router = APIRouter(prefix="/admin/prompts", tags=["prompts"], include_in_schema=False)


def _yes_no(value: str) -> bool | None:
    return {"1": True, "0": False}.get(value)


@router.get("")
def prompt_list(
    request: Request,
    db: DbDep,
    principal: Admin,
    proj: ChosenProjectDep,
    q: Annotated[str, Query(max_length=500)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    active: str = "",
    held_out: str = "",
    priority_min: int | None = None,
    meta: Annotated[str, Query(max_length=300)] = "",
    external_id: Annotated[str, Query(max_length=200)] = "",
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    filt = PromptFilter(
        q=q,
        tag=tag,
        active=_yes_no(active),
        priority_min=priority_min,
        held_out=_yes_no(held_out),
        meta=meta,
        external_id=external_id,
    )
    page = list_prompts(db, proj.id, filt, before=before, limit=limit)
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "page": page,
        "filt": filt,
        "active": active,
        "held_out": held_out,
        "limit": limit,
        "held_out_share": settings_of(proj).held_out_share,
    }
    return render(request, "admin/prompts.html", ctx, block="rows")


@router.post("/held-out")
def prompt_held_out(
    request: Request,
    db: DbDep,
    principal: Admin,
    project: Annotated[int, Form()],
    held_out: Annotated[bool, Form()],
    prompt_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """The prompt list's bulk action: hold the ticked prompts out, or return them."""
    proj = chosen_project(db, principal, project)
    set_held_out(db, proj, prompt_ids or [], held_out, principal.user.id)
    return redirect(request, f"/admin/prompts?project={proj.id}")


@router.post("/import")
async def prompt_import(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    file: UploadFile,
    skip_bad: Annotated[bool, Form()] = False,
) -> Response:
    summary: ImportSummary | None = None
    error = ""
    try:
        summary, _ = await import_prompt_upload(
            db, settings, proj, file, skip_bad=skip_bad, actor_id=principal.user.id
        )
    except ImportFileError as exc:
        error = f"{file.filename}: {exc}"
    page = list_prompts(db, proj.id, PromptFilter(), before=None)
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "page": page,
        "filt": PromptFilter(),
        "active": "",
        "held_out": "",
        "limit": 50,
        "held_out_share": settings_of(proj).held_out_share,
        "summary": summary,
        "import_error": error,
        "filename": file.filename,
    }
    status = 200 if summary is not None and summary.imported else 422
    return render(request, "admin/prompts.html", ctx, status_code=status)


@router.post("/{prompt_id}")
def prompt_edit(
    request: Request,
    db: DbDep,
    principal: Admin,
    prompt_id: int,
    tags: Annotated[str, Form(max_length=2000)] = "",
    priority: Annotated[int, Form(ge=-1_000_000, le=1_000_000)] = 0,
) -> Response:
    prompt = get_prompt(db, prompt_id)
    try:
        update_prompt(db, prompt, tags=tags, priority=priority, actor_id=principal.user.id)
    except ValueError as exc:
        raise HTTPException(422, f"Tags: {exc}.") from exc
    return redirect(request, f"/admin/prompts?project={prompt.project_id}")


@router.post("/{prompt_id}/deactivate")
def prompt_deactivate(request: Request, db: DbDep, principal: Admin, prompt_id: int) -> Response:
    prompt = get_prompt(db, prompt_id)
    set_active(db, prompt, False, principal.user.id)
    return redirect(request, f"/admin/prompts?project={prompt.project_id}")


@router.post("/{prompt_id}/activate")
def prompt_activate(request: Request, db: DbDep, principal: Admin, prompt_id: int) -> Response:
    prompt = get_prompt(db, prompt_id)
    set_active(db, prompt, True, principal.user.id)
    return redirect(request, f"/admin/prompts?project={prompt.project_id}")
