"""The admin dashboard page and its JSON twin."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from app.charts import Bar, bar_chart
from app.dashboard.service import ACTIVE_MINUTES, DAYS, Dashboard, dashboard
from app.deps import Admin, DbDep, SettingsDep
from app.models import Project, utcnow
from app.pairs.review import queue_depth
from app.projects.deps import ChosenProjectDep
from app.projects.service import visible_projects
from app.quality.figures import project_quality
from app.settings import Settings
from app.snapshots import snapshots_of
from app.web import render

router = APIRouter(tags=["dashboard"], include_in_schema=False)
api_router = APIRouter(tags=["dashboard"])


def _board(request: Request, db: Session, project: Project, settings: Settings) -> Dashboard:
    """The dashboard, with the project's kept agreement and flags (and their time)."""
    quality = project_quality(snapshots_of(request.app.state), db, project)
    return dashboard(db, project, settings, utcnow(), quality)


def day_chart(days: list[tuple[date, int]]) -> Markup:
    """Labels per day, a date under about six of the bars."""
    every = max(1, math.ceil(len(days) / 6))
    bars = [
        Bar(
            label=day.strftime("%d %b") if (len(days) - 1 - k) % every == 0 else "",
            value=n,
            title=f"{day.isoformat()}: {n} label{'' if n == 1 else 's'}",
            data={"day": day.isoformat(), "count": str(n)},
        )
        for k, (day, n) in enumerate(days)
    ]
    title = f"Labels per day over the last {len(days)} days"
    return bar_chart(bars, title=title, group_class="day", css_class="day-chart")


@router.get("/admin/dashboard")
def dashboard_page(
    request: Request, db: DbDep, settings: SettingsDep, principal: Admin, proj: ChosenProjectDep
) -> Response:
    board = _board(request, db, proj, settings)
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "board": board,
        "chart": day_chart(board.days),
        "days": DAYS,
        "active_minutes": ACTIVE_MINUTES,
        "review_queue": queue_depth(db, proj.id),
    }
    return render(request, "admin/dashboard.html", ctx)


@api_router.get("/dashboard")
def api_dashboard(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectDep,
) -> dict[str, Any]:
    """The dashboard's figures: labels per UTC day, queue, buffers, active people, quality
    (agreement and flags as kept for the project: computed at `quality_at`, out of date while
    `quality_current` is false), pairs awaiting adjudication."""
    board = _board(request, db, proj, settings)
    return {"project": proj.id, **asdict(board), "review_queue": queue_depth(db, proj.id)}
