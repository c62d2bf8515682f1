"""The prompt API: list, import (upload), edit, (de)activate, hold out for evaluation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, UploadFile

from app.api.errors import ApiProblem, field_errors
from app.deps import Admin, DbDep, SettingsDep
from app.models import Project
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep, chosen_project
from app.prompts.deps import get_prompt
from app.prompts.schemas import (
    HeldOutIn,
    HeldOutResult,
    ImportSummaryOut,
    PromptOut,
    PromptPageOut,
    PromptUpdate,
)
from app.prompts.service import (
    PromptFilter,
    PromptRow,
    counts,
    list_prompts,
    set_active,
    set_held_out,
    update_prompt,
)
from app.prompts.uploads import import_prompt_upload

router = APIRouter(prefix="/prompts", tags=["prompts"])


@router.get("", response_model=PromptPageOut)
def api_list(
    db: DbDep,
    principal: Admin,
    proj: ChosenProjectDep,
    q: Annotated[str, Query(max_length=500)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    active: bool | None = None,
    priority_min: int | None = None,
    held_out: bool | None = None,
    meta: Annotated[
        str, Query(max_length=300, description="`key=value` or `key`: prompt metadata")
    ] = "",
    external_id: Annotated[str, Query(max_length=200)] = "",
    before: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PromptPageOut:
    filt = PromptFilter(
        q=q,
        tag=tag,
        active=active,
        priority_min=priority_min,
        held_out=held_out,
        meta=meta,
        external_id=external_id,
    )
    page = list_prompts(db, proj.id, filt, before=before, limit=limit)
    return PromptPageOut(items=[PromptOut.of(r) for r in page.rows], next_before=page.next_before)


@router.post("/import", response_model=ImportSummaryOut)
async def api_import(
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    file: UploadFile,
    skip_bad: Annotated[bool, Form()] = False,
) -> ImportSummaryOut:
    """422 with every bad record (`field` = line or row) when the file was not imported."""
    summary, parsed = await import_prompt_upload(
        db, settings, proj, file, skip_bad=skip_bad, actor_id=principal.user.id
    )
    if not summary.imported:
        raise ApiProblem(
            422,
            "Nothing was imported.",
            errors=field_errors((f"{summary.unit} {p.line}", p.reason) for p in parsed.problems),
        )
    return ImportSummaryOut.of(summary)


@router.post("/held-out", response_model=HeldOutResult)
def api_held_out(db: DbDep, principal: Admin, body: HeldOutIn) -> HeldOutResult:
    """Hold prompts out for evaluation (their open pairs are retired), or return them."""
    proj = chosen_project(db, principal, body.project)
    changed, retired = set_held_out(db, proj, body.prompt_ids, body.held_out, principal.user.id)
    return HeldOutResult(changed=changed, retired_pairs=retired)


@router.patch("/{prompt_id}", response_model=PromptOut)
def api_update(db: DbDep, principal: Admin, prompt_id: int, body: PromptUpdate) -> PromptOut:
    prompt = get_prompt(db, prompt_id)
    try:
        update_prompt(
            db, prompt, tags=body.tags, priority=body.priority, actor_id=principal.user.id
        )
    except ValueError as exc:
        raise HTTPException(422, [{"field": "tags", "message": str(exc)}]) from exc
    if body.held_out is not None:
        project = db.get_one(Project, prompt.project_id)
        set_held_out(db, project, [prompt.id], body.held_out, principal.user.id)
    db.flush()
    pairs, labels = counts(db, [prompt.id])
    return PromptOut.of(PromptRow(prompt, pairs.get(prompt.id, 0), labels.get(prompt.id, 0)))


@router.post("/{prompt_id}/deactivate")
def api_deactivate(db: DbDep, principal: Admin, prompt_id: int) -> dict[str, int]:
    """Open pairs of the prompt are retired; its labels stay."""
    retired = set_active(db, get_prompt(db, prompt_id), False, principal.user.id)
    return {"retired_pairs": retired}


@router.post("/{prompt_id}/activate")
def api_activate(db: DbDep, principal: Admin, prompt_id: int) -> dict[str, int]:
    set_active(db, get_prompt(db, prompt_id), True, principal.user.id)
    return {"retired_pairs": 0}
