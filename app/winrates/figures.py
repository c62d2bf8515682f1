"""The leaderboard and the Loop page's lineage win-rates, kept per project (`app.snapshots`):
their bootstrap runs once per batch of new head-to-head votes, not on every request."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Comparison, Pair, PlaygroundMatch, PolicyVersion, Project
from app.settings import Settings
from app.snapshots import Aggregate, Figures, Snapshots
from app.winrates.schemas import EvaluatorFilter, LeaderboardOut, VoteSource
from app.winrates.service import LineageWinRates, leaderboard, lineage_win_rates


def head_to_head_source(db: Session, project: Project, settings: Settings) -> str:
    """Moves with every head-to-head vote (playground and battle votes too), every new version
    and the number of bootstrap resamples (a version's status is read fresh on every view)."""
    count, newest = db.execute(
        select(func.count(Comparison.id), func.max(Comparison.id))
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(Comparison.project_id == project.id, Comparison.live, Pair.kind == "head_to_head")
    ).one()
    # A match is voted once and never changed: the count of voted matches moves with each vote.
    matches = db.scalar(
        select(func.count(PlaygroundMatch.id)).where(
            PlaygroundMatch.project_id == project.id, PlaygroundMatch.choice.is_not(None)
        )
    )
    versions = db.execute(
        select(PolicyVersion.id, PolicyVersion.parent_id)
        .where(PolicyVersion.project_id == project.id)
        .order_by(PolicyVersion.id)
    ).all()
    shape = repr(([tuple(v) for v in versions], settings.leaderboard_bootstrap))
    return f"{count}:{newest}:{matches}:{hashlib.sha256(shape.encode()).hexdigest()[:32]}"


def _board(evaluators: EvaluatorFilter, source: VoteSource) -> Aggregate[LeaderboardOut]:
    def compute(db: Session, project: Project, settings: Settings) -> LeaderboardOut:
        return leaderboard(
            db,
            project,
            evaluators=evaluators,
            source=source,
            bootstrap=settings.leaderboard_bootstrap,
        )

    name = f"leaderboard:{evaluators}" + ("" if source == "blind" else f":{source}")
    return Aggregate(name, LeaderboardOut, head_to_head_source, compute)


def _lineage(db: Session, project: Project, settings: Settings) -> dict[int, LineageWinRates]:
    return lineage_win_rates(db, project, bootstrap=settings.leaderboard_bootstrap)


BOARDS: dict[tuple[str, str], Aggregate[LeaderboardOut]] = {
    (f, source): _board(f, source)  # type: ignore[arg-type]
    for f in ("all", "human", "simulated")
    for source in ("blind", "playground")
}
LINEAGE: Aggregate[dict[int, LineageWinRates]] = Aggregate(
    "lineage", dict[int, LineageWinRates], head_to_head_source, _lineage
)


def kept_leaderboard(
    snapshots: Snapshots,
    db: Session,
    project: Project,
    evaluators: EvaluatorFilter = "all",
    source: VoteSource = "blind",
) -> LeaderboardOut:
    """The project's leaderboard as kept, with its time (`as_of`, `current`)."""
    figures = snapshots.get(db, BOARDS[(evaluators, source)], project)
    status = dict(
        db.execute(
            select(PolicyVersion.id, PolicyVersion.status).where(
                PolicyVersion.project_id == project.id
            )
        ).all()
    )
    versions = [
        v.model_copy(update={"status": status.get(v.version_id, v.status)})
        for v in figures.value.versions
    ]
    return figures.value.model_copy(
        update={"versions": versions, "as_of": figures.as_of, "current": figures.current}
    )


def kept_lineage(
    snapshots: Snapshots, db: Session, project: Project
) -> Figures[dict[int, LineageWinRates]]:
    """By version id, P(beats its parent) and P(beats v0) as kept, with their time."""
    return snapshots.get(db, LINEAGE, project)


def lineage_as_of(snapshots: Snapshots, db: Session, project_id: int) -> Any:
    """When the kept lineage win-rates were computed (a part of the Loop page's token)."""
    return snapshots.as_of(db, LINEAGE, project_id)
