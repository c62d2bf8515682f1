"""ML staff pages for policy versions: lineage, metrics, promote, roll back, end a trial."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.deps import DbDep, MLStaff, Principal, SettingsDep
from app.domain import versions as lifecycle
from app.domain.safety import live_alarms
from app.models import PolicyVersion
from app.policies.figures import kept_safety
from app.projects.deps import ChosenProjectDep
from app.projects.service import get_visible_project, visible_projects
from app.snapshots import snapshots_of
from app.web import redirect, render
from app.winrates.figures import kept_leaderboard
from app.winrates.routes import leaderboard_chart

router = APIRouter(prefix="/training", include_in_schema=False)


def visible_version(db: Session, principal: Principal, version_id: int) -> PolicyVersion:
    """The version if the caller may see its project, else 404."""
    version = db.get(PolicyVersion, version_id)
    if version is None or get_visible_project(db, principal.user, version.project_id) is None:
        raise HTTPException(404, "No such policy version.")
    return version


@router.get("/versions")
def versions_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: MLStaff,
    target: ChosenProjectDep,
) -> Response:
    versions = lifecycle.list_versions(db, target.id)
    numbers = {v.id: v.number for v in versions}
    # Human head-to-head judgements of these versions: the leaderboard and its chart.
    snapshots = snapshots_of(request.app.state)
    board = kept_leaderboard(snapshots, db, target)
    safety = kept_safety(snapshots, db, target)
    context = {
        "project": target,
        "projects": visible_projects(db, principal.user),
        "versions": versions,
        "numbers": numbers,
        "board": board,
        "chart": leaderboard_chart(board),
        "unsafe": safety.value,
        "unsafe_alarms": live_alarms(safety.value, versions),
        "unsafe_as_of": safety.as_of,
        "unsafe_current": safety.current,
    }
    return render(request, "training/versions.html", context)


@router.post("/versions/{version_id}/promote")
def promote_version(
    request: Request, version_id: int, db: DbDep, settings: SettingsDep, principal: MLStaff
) -> Response:
    version = visible_version(db, principal, version_id)
    try:
        lifecycle.promote(db, settings, version, principal.user.id)
    except lifecycle.PromotionError as exc:
        raise HTTPException(409, str(exc)) from None
    return redirect(request, f"/training/versions?project={version.project_id}")


@router.post("/versions/{version_id}/reject")
def reject_version(
    request: Request,
    version_id: int,
    db: DbDep,
    principal: MLStaff,
    note: Annotated[str, Form(max_length=lifecycle.MAX_NOTE)] = "",
) -> Response:
    """End a version's human trial by hand: rejected, the active version keeps serving."""
    version = visible_version(db, principal, version_id)
    lifecycle.reject_trial(db, version, principal.user.id, note=note)
    return redirect(request, f"/training/versions?project={version.project_id}")
