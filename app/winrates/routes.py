"""The leaderboard page for ML staff: a table, an SVG chart and the raw win-rate matrix."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from app.deps import DbDep, MLStaff, SettingsDep
from app.projects.service import get_visible_project, visible_projects
from app.web import render
from app.winrates import service
from app.winrates.chart import chart
from app.winrates.schemas import EvaluatorFilter

router = APIRouter()


@router.get("/training/leaderboard", include_in_schema=False)
def leaderboard_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: MLStaff,
    project_id: int | None = None,
    evaluators: EvaluatorFilter = "all",
) -> Response:
    projects = visible_projects(db, principal.user)
    if project_id is not None:
        project = get_visible_project(db, principal.user, project_id)
        if project is None:
            raise HTTPException(404, "No such project.")
    else:
        project = projects[0] if projects else None
    board = (
        service.leaderboard(
            db, project, evaluators=evaluators, bootstrap=settings.leaderboard_bootstrap
        )
        if project
        else None
    )
    ctx = {
        "projects": projects,
        "project": project,
        "board": board,
        "chart": chart(board.versions) if board else None,
        "evaluators": evaluators,
    }
    return render(request, "leaderboard.html", ctx, block="board")
