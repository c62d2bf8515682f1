"""The admin dashboard page and its JSON twin."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.dashboard.chart import bar_chart
from app.dashboard.service import ACTIVE_MINUTES, DAYS, dashboard
from app.deps import Admin, DbDep, SettingsDep
from app.models import utcnow
from app.projects.deps import chosen_project
from app.projects.service import visible_projects
from app.web import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)
api_router = APIRouter(tags=["dashboard"])


@router.get("/admin/dashboard")
def dashboard_page(
    request: Request, db: DbDep, settings: SettingsDep, principal: Admin, project: int | None = None
) -> Response:
    proj = chosen_project(db, principal, project)
    board = dashboard(db, proj, settings, utcnow())
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "board": board,
        "chart": bar_chart(board.days),
        "days": DAYS,
        "active_minutes": ACTIVE_MINUTES,
    }
    return render(request, "admin/dashboard.html", ctx)


@api_router.get("/dashboard")
def api_dashboard(
    db: DbDep, settings: SettingsDep, principal: Admin, project: int | None = None
) -> dict[str, Any]:
    """The dashboard's figures: labels per UTC day, queue, buffers, active people, quality."""
    proj = chosen_project(db, principal, project)
    board = dashboard(db, proj, settings, utcnow())
    return {"project": proj.id, **asdict(board)}
