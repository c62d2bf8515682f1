"""The Loop page: the front page of a project for admins and ML staff, live through htmx.

Two parts poll on their own: `live` (labels towards the next run, the run in progress) at
the pace a run reports, `versions` (win-rates, reward-model accuracy, the chart) slowly.
A poll that carries the token of what it shows gets 204 when nothing changed, so htmx
swaps nothing and the server renders nothing.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from markupsafe import Markup

from app.charts import Series, line_chart, percent
from app.deps import AdminOrML, DbDep, SettingsDep
from app.loop import service
from app.models import utcnow
from app.projects.deps import ProjectDep
from app.projects.service import visible_projects
from app.web import is_htmx, redirect, render

router = APIRouter(tags=["loop"], include_in_schema=False)

LIVE_POLL_RUNNING_SECONDS = 2
LIVE_POLL_IDLE_SECONDS = 5
VERSIONS_POLL_SECONDS = 10


def win_rate_chart(loop: service.Loop) -> Markup | None:
    """P(beats v0) against labels collected, with its interval as a band."""
    curve = loop.curve()
    if len(curve) < 2:
        return None
    series = Series(
        "P(beats v0)",
        [(x, iv.estimate) for x, iv in curve],
        band=[(x, iv.low, iv.high) for x, iv in curve],
    )
    return line_chart(
        [series],
        title="Human win-rate against v0 by labels collected",
        x_label="labels",
        y_range=(0.0, 1.0),
        y_format=percent,
        reference=0.5,
        size=(640, 240),
        css_class="wide",
    )


@router.get("/loop")
def my_loop(request: Request, db: DbDep, principal: AdminOrML) -> Response:
    """The Loop page of the caller's first project."""
    projects = visible_projects(db, principal.user)
    if not projects:
        raise HTTPException(404, "No project yet (an admin can create one under Projects).")
    return redirect(request, f"/projects/{projects[0].id}/loop")


@router.get("/projects/{project_id}/loop")
def loop_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: AdminOrML,
    project: ProjectDep,
    part: Literal["live", "versions"] | None = None,
    since: str = "",
) -> Response:
    token = service.change_tokens(db, project.id)
    if part is not None and is_htmx(request) and since == token[part]:
        return Response(status_code=204, headers={"Vary": "HX-Request"})
    loop = service.loop(db, settings, project, utcnow(), versions=part != "live")
    running = loop.now is not None and loop.now.run.status == "running"
    context = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "loop": loop,
        "chart": win_rate_chart(loop) if part != "live" else None,
        "tokens": token,
        "live_poll": LIVE_POLL_RUNNING_SECONDS if running else LIVE_POLL_IDLE_SECONDS,
        "versions_poll": VERSIONS_POLL_SECONDS,
    }
    return render(request, "loop.html", context, block=part)
