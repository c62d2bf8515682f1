"""Quality page and API: agreement, gold pairs, flagged annotators, exclusions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.annotators import cohorts
from app.annotators.routes import get_user
from app.api.errors import ApiProblem, field_errors
from app.deps import Admin, DbDep, Principal, SettingsDep
from app.domain.project_settings import settings_of
from app.models import Pair, Project, User
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep, chosen_project
from app.projects.service import visible_projects
from app.prompts.importer import ImportFileError
from app.prompts.uploads import read_upload
from app.quality import service
from app.quality.figures import cohorts_changed, project_quality
from app.quality.pictures import accuracy_scatter, cohort_chart, kappa_heatmap
from app.settings import Settings
from app.snapshots import snapshots_of
from app.web import redirect, render

router = APIRouter(tags=["quality"], include_in_schema=False)
api_router = APIRouter(prefix="/quality", tags=["quality"])


def get_pair(db: Session, pair_id: int) -> Pair:
    pair = db.get(Pair, pair_id)
    if pair is None:
        raise HTTPException(404, "No such pair.")
    return pair


def _page(
    request: Request,
    db: Session,
    settings: Settings,
    principal: Principal,
    project: Project,
    **extra: object,
) -> Response:
    quality = project_quality(snapshots_of(request.app.state), db, project)
    stats = quality.value.annotators
    users = db.scalars(select(User).where(User.id.in_(stats))).all() if stats else []
    excluded = set(settings_of(project).excluded_annotators)
    figures = [(u, stats[u.id], u.id in excluded) for u in users]
    figures.sort(key=lambda f: (not f[1].trust_flags, f[0].username))
    scatter, unplotted = accuracy_scatter(figures, project.id)
    ctx = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "agreement": quality.value.agreement,
        "figures_as_of": quality.as_of,
        "figures_current": quality.current,
        "figures": figures,
        "cohorts": quality.value.cohorts,
        "cohort_charts": {d.name: cohort_chart(d) for d in quality.value.cohorts},
        "kappa_heatmap": kappa_heatmap(quality.value.agreement),
        "accuracy_scatter": scatter,
        "scatter_unplotted": unplotted,
        "overlap_by_tag": settings_of(project).overlap_by_tag,
        "gold_pairs": db.scalar(
            select(Pair.id).where(Pair.project_id == project.id, Pair.kind == "gold").limit(1)
        ),
        **extra,
    }
    status = 422 if extra.get("error") else 200
    return render(request, "admin/quality.html", ctx, status_code=status)


@router.get("/admin/quality")
def quality_page(
    request: Request, db: DbDep, settings: SettingsDep, principal: Admin, project: ChosenProjectDep
) -> Response:
    return _page(request, db, settings, principal, project)


@router.post("/admin/quality/gold")
def gold_mark(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    pair_id: Annotated[int, Form()],
    answer: Annotated[str, Form()] = "",
) -> Response:
    pair = get_pair(db, pair_id)
    project = chosen_project(db, principal, pair.project_id)
    try:
        service.mark_gold(db, pair, answer or None, principal.user.id)
    except service.QualityError as exc:
        return _page(request, db, settings, principal, project, error=str(exc))
    return redirect(request, f"/admin/quality?project={project.id}")


@router.post("/admin/quality/gold/import")
async def gold_import(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    file: UploadFile,
) -> Response:
    try:
        data = await read_upload(file, settings)
    except ImportFileError as exc:
        return _page(request, db, settings, principal, proj, error=str(exc))
    result = service.import_gold(db, proj, data, settings.prompt_max_chars, principal.user.id)
    if result.problems:
        return _page(
            request,
            db,
            settings,
            principal,
            proj,
            error="Nothing imported.",
            gold_problems=result.problems,
        )
    return _page(
        request, db, settings, principal, proj, notice=f"Imported {result.added} gold pair(s)."
    )


@router.post("/admin/quality/exclusions")
def exclusion(
    request: Request,
    db: DbDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    user_id: Annotated[int, Form()],
    excluded: Annotated[bool, Form()],
) -> Response:
    service.set_excluded(db, proj, get_user(db, user_id), excluded, principal.user.id)
    return redirect(request, f"/admin/annotators/{user_id}?project={proj.id}")


@router.post("/admin/quality/cohorts")
def cohort_tag(
    request: Request,
    db: DbDep,
    principal: Admin,
    user_id: Annotated[int, Form()],
    dimension: Annotated[str, Form(max_length=200)],
    value: Annotated[str, Form(max_length=200)] = "",
    project: Annotated[int | None, Form()] = None,
) -> Response:
    """Place an annotator in a cohort (an empty value removes the tag)."""
    proj = chosen_project(db, principal, project)
    try:
        cohorts.set_tag(db, get_user(db, user_id), dimension, value, principal.user.id)
    except cohorts.CohortError as exc:
        raise HTTPException(422, str(exc)) from exc
    cohorts_changed(db)
    return redirect(request, f"/admin/annotators/{user_id}?project={proj.id}")


class KappaOut(BaseModel):
    user_a: str
    user_b: str
    shared: int
    kappa: float | None


class AgreementOut(BaseModel):
    overlapped_pairs: int
    annotators: int
    pairwise_agreement: float | None
    krippendorff_alpha: float | None
    cohen_kappas: list[KappaOut]
    as_of: datetime = Field(description="When these figures were computed (kept per project).")
    current: bool = Field(description="False when labels arrived since; a refresh is under way.")


class GoldIn(BaseModel):
    answer: str | None


@api_router.get("/agreement", response_model=AgreementOut)
def api_agreement(
    request: Request, db: DbDep, principal: Admin, proj: ChosenProjectDep
) -> AgreementOut:
    """Agreement over the project's overlapped pairs, as kept with its time (`as_of`)."""
    quality = project_quality(snapshots_of(request.app.state), db, proj)
    a = quality.value.agreement
    return AgreementOut(
        overlapped_pairs=a.overlapped_pairs,
        annotators=a.annotators,
        pairwise_agreement=a.pairwise_agreement,
        krippendorff_alpha=a.alpha,
        cohen_kappas=[KappaOut(**k.__dict__) for k in a.kappas],
        as_of=quality.as_of,
        current=quality.current,
    )


@api_router.put("/pairs/{pair_id}/gold")
def api_gold(db: DbDep, principal: Admin, pair_id: int, body: GoldIn) -> dict[str, str | None]:
    """Set a pair's known answer (a, b, tie, both_bad), or null to make it live again."""
    pair = get_pair(db, pair_id)
    try:
        service.mark_gold(db, pair, body.answer, principal.user.id)
    except service.QualityError as exc:
        raise HTTPException(422, [{"field": "answer", "message": str(exc)}]) from exc
    return {"kind": pair.kind, "gold_choice": pair.gold_choice}


@api_router.post("/gold/import")
async def api_gold_import(
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    file: UploadFile,
) -> dict[str, int]:
    data = await read_upload(file, settings)
    result = service.import_gold(db, proj, data, settings.prompt_max_chars, principal.user.id)
    if result.problems:
        raise ApiProblem(
            422,
            "Nothing was imported.",
            errors=field_errors((f"line {p.line}", p.reason) for p in result.problems),
        )
    return {"added": result.added}


class ExclusionIn(BaseModel):
    user_id: int
    excluded: bool


@api_router.put("/exclusions")
def api_exclusion(
    db: DbDep, principal: Admin, proj: ChosenProjectDep, body: ExclusionIn
) -> dict[str, list[int]]:
    """Exclude or re-include an annotator's labels (training data and export honour it)."""
    service.set_excluded(db, proj, get_user(db, body.user_id), body.excluded, principal.user.id)
    return {"excluded_annotators": list(settings_of(proj).excluded_annotators)}
