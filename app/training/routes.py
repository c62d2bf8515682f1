"""ML staff pages: the runs list with the enqueue form, and a run's live page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from app.deps import DbDep, MLStaff, SettingsDep
from app.domain.project_settings import recipe_of
from app.models import TrainingRun
from app.projects.service import visible_projects
from app.training import service
from app.training.curves import overlay_charts, run_charts
from app.training.run_view import evaluation_examples, poll_seconds, tracking_boards
from app.web import redirect, render

router = APIRouter(prefix="/training", include_in_schema=False)
KINDS = ("full", "reward", "policy")


def _recipes() -> list[str]:
    from app.domain.recipe import available_recipes

    return available_recipes()


def _list_page(
    request: Request,
    db: DbDep,
    principal: MLStaff,
    settings: SettingsDep,
    project_id: int | None,
    page: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    compare: list[int] | None = None,
) -> Response:
    try:
        project = service.resolve_project(db, principal.user, project_id)
    except service.TrainingInputError as exc:
        raise HTTPException(404, str(exc)) from None
    runs, total = service.list_runs(db, project, page)
    compared = service.runs_of_project(db, project, compare or [])
    context = {
        "compared": [r.id for r in compared],
        "overlay": overlay_charts(compared) if compared else [],
        "project": project,
        "projects": visible_projects(db, principal.user),
        "runs": runs,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // service.PAGE_SIZE)),
        "recipes": _recipes(),
        "kinds": KINDS,
        "default_recipe": recipe_of(project, settings),
        "error": error,
        "form": form or {},
    }
    return render(request, "training/runs.html", context, status_code=422 if error else 200)


@router.get("/runs")
def runs_page(
    request: Request,
    db: DbDep,
    principal: MLStaff,
    settings: SettingsDep,
    project: int | None = None,
    page: int = 1,
    compare: Annotated[list[int], Query(max_length=service.MAX_COMPARED * 4)] = [],  # noqa: B006
) -> Response:
    """The runs; with `compare=<run id>` repeated, their loss and reward curves overlaid."""
    return _list_page(request, db, principal, settings, project, max(page, 1), compare=compare)


@router.post("/runs")
def enqueue_run(
    request: Request,
    db: DbDep,
    principal: MLStaff,
    settings: SettingsDep,
    project_id: Annotated[int, Form()],
    kind: Annotated[str, Form()] = "full",
    recipe: Annotated[str, Form(max_length=100)] = "",
    overrides: Annotated[str, Form(max_length=5000)] = "",
    include_simulated: Annotated[bool, Form()] = False,
) -> Response:
    form = {"kind": kind, "recipe": recipe, "overrides": overrides}
    try:
        run = service.request_run(
            db,
            settings,
            project_id,
            principal.user,
            kind=kind if kind in KINDS else "",
            recipe=recipe or None,
            overrides=service.parse_overrides(overrides),
            include_simulated=include_simulated,
        )
    except service.TrainingInputError as exc:
        return _list_page(
            request, db, principal, settings, project_id, 1, error=str(exc), form=form
        )
    return redirect(request, f"/training/runs/{run.id}")


def _run_or_404(db: DbDep, principal: MLStaff, run_id: int) -> TrainingRun:
    run = service.visible_run(db, principal.user, run_id)
    if run is None:
        raise HTTPException(404, "No such training run.")
    return run


@router.get("/runs/{run_id}")
def run_page(
    request: Request, run_id: int, db: DbDep, principal: MLStaff, settings: SettingsDep
) -> Response:
    run = _run_or_404(db, principal, run_id)
    metrics = run.metrics or {}
    context = {
        "run": run,
        "active": run.status in ("queued", "running"),
        "poll_seconds": poll_seconds(run),
        "examples": evaluation_examples(metrics.get("evaluation") or {}),
        "charts": run_charts(metrics.get("curves") or {}),
        "data_counts": metrics.get("data") or {},
        "reward": {k: v for k, v in (metrics.get("reward") or {}).items() if k != "loss_curve"},
        "evaluation": {
            k: v for k, v in (metrics.get("evaluation") or {}).items() if k != "examples"
        },
        "sft": {k: v for k, v in (metrics.get("sft") or {}).items() if isinstance(v, int | float)},
        "policy": {
            k: v for k, v in (metrics.get("policy") or {}).items() if isinstance(v, int | float)
        },
        "timings": metrics.get("timings") or {},
        "gates": metrics.get("gates"),
        "boards": tracking_boards(run, settings),
    }
    return render(request, "training/run.html", context, block="live")


@router.post("/runs/{run_id}/cancel")
def cancel_run(request: Request, run_id: int, db: DbDep, principal: MLStaff) -> Response:
    run = _run_or_404(db, principal, run_id)
    try:
        service.cancel_run(db, run, principal.user)
    except service.TrainingInputError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(request, f"/training/runs/{run.id}")
