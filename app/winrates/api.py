"""The leaderboard through the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from app.deps import AdminOrML, DbDep, SettingsDep
from app.projects.service import get_visible_project
from app.winrates import service
from app.winrates.schemas import EvaluatorFilter, LeaderboardOut

router = APIRouter(tags=["win-rates"])


@router.get("/projects/{project_id}/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    project_id: int,
    db: DbDep,
    settings: SettingsDep,
    principal: AdminOrML,
    evaluators: EvaluatorFilter = "all",
) -> LeaderboardOut:
    """Bradley–Terry ratings per policy version from head-to-head judgements, with intervals."""
    project = get_visible_project(db, principal.user, project_id)
    if project is None:
        raise HTTPException(404, "No such project.")
    return service.leaderboard(
        db, project, evaluators=evaluators, bootstrap=settings.leaderboard_bootstrap
    )
