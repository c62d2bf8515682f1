"""The leaderboard page for ML staff: a table, an SVG chart and the raw win-rate matrix."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from app.charts import Bar, point_chart
from app.deps import DbDep, MLStaff
from app.projects.deps import ProjectIdOrNoneDep
from app.projects.service import visible_projects
from app.snapshots import snapshots_of
from app.web import render
from app.winrates.figures import kept_leaderboard
from app.winrates.schemas import EvaluatorFilter, LeaderboardOut

router = APIRouter()


def leaderboard_chart(board: LeaderboardOut) -> Markup | None:
    """P(beats the reference) per rated version with its interval; None when nothing is rated."""
    points = [
        Bar(
            label=f"v{v.number}",
            value=v.win_probability,
            low=v.win_probability_low,
            high=v.win_probability_high,
            title=f"v{v.number}: {v.win_probability:.0%}"
            f" ({v.win_probability_low:.0%}–{v.win_probability_high:.0%})",
        )
        for v in board.versions
        if v.win_probability is not None
        and v.win_probability_low is not None
        and v.win_probability_high is not None
    ]
    if not points:
        return None
    title = f"Modelled chance of each version beating v{board.reference_number}, with intervals"
    return point_chart(points, title=title, group_class="version-point")


@router.get("/training/leaderboard", include_in_schema=False)
def leaderboard_page(
    request: Request,
    db: DbDep,
    principal: MLStaff,
    project: ProjectIdOrNoneDep,
    evaluators: EvaluatorFilter = "all",
) -> Response:
    snapshots = snapshots_of(request.app.state)
    board = kept_leaderboard(snapshots, db, project, evaluators) if project else None
    playground = (
        kept_leaderboard(snapshots, db, project, evaluators, "playground") if project else None
    )
    ctx = {
        "projects": visible_projects(db, principal.user),
        "project": project,
        "board": board,
        "chart": leaderboard_chart(board) if board else None,
        "playground": playground,
        "evaluators": evaluators,
    }
    return render(request, "leaderboard.html", ctx, block="board")
