"""Training runs through the JSON API (the twins of the pages)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from app.api.errors import CONFLICT
from app.deps import DbDep, MLStaff, SettingsDep
from app.models import TrainingRun
from app.training import service
from app.training.schemas import RunCreate, RunDetail, RunOut, RunPage

router = APIRouter(prefix="/training-runs", tags=["training"])


def _run(db: DbDep, principal: MLStaff, run_id: int) -> TrainingRun:
    run = service.visible_run(db, principal.user, run_id)
    if run is None:
        raise HTTPException(404, "No such training run.")
    return run


@router.post("", response_model=RunDetail, status_code=201, responses=CONFLICT)
def create_run(body: RunCreate, db: DbDep, settings: SettingsDep, principal: MLStaff) -> RunDetail:
    run = service.request_run(
        db,
        settings,
        body.project_id,
        principal.user,
        kind=body.kind,
        recipe=body.recipe,
        overrides=dict(body.overrides),
        include_simulated=body.include_simulated,
    )
    db.refresh(run)
    return RunDetail.model_validate(run)


@router.get("", response_model=RunPage)
def list_runs(
    db: DbDep,
    principal: MLStaff,
    project_id: int | None = None,
    page: int = Query(1, ge=1, le=100000),
) -> RunPage:
    project = service.resolve_project(db, principal.user, project_id)
    runs, total = service.list_runs(db, project, page)
    return RunPage(items=[RunOut.model_validate(r) for r in runs], total=total, page=page)


@router.get("/{run_id}", response_model=RunDetail)
def get_run(run_id: int, db: DbDep, principal: MLStaff) -> RunDetail:
    return RunDetail.model_validate(_run(db, principal, run_id))


@router.post("/{run_id}/cancel", response_model=RunDetail, responses=CONFLICT)
def cancel_run(run_id: int, db: DbDep, principal: MLStaff) -> RunDetail:
    run = _run(db, principal, run_id)
    service.cancel_run(db, run, principal.user)
    return RunDetail.model_validate(run)
