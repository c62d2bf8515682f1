"""The leaderboard through the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.deps import AdminOrML, DbDep
from app.projects.deps import ProjectDep
from app.snapshots import snapshots_of
from app.winrates.figures import kept_leaderboard
from app.winrates.schemas import EvaluatorFilter, LeaderboardOut, VoteSource

router = APIRouter(tags=["win-rates"])


@router.get("/projects/{project_id}/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    request: Request,
    db: DbDep,
    principal: AdminOrML,
    project: ProjectDep,
    evaluators: EvaluatorFilter = "all",
    source: VoteSource = "blind",
) -> LeaderboardOut:
    """Bradley–Terry ratings per policy version from head-to-head judgements, with intervals
    (kept per project: `as_of` says when they were computed). `source=blind` (the default):
    labelled head-to-head pairs and anonymous battles; `source=playground`: the playground's
    named votes, kept apart."""
    return kept_leaderboard(snapshots_of(request.app.state), db, project, evaluators, source)
