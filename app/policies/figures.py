"""Each version's unsafe share (`app.domain.safety`), kept per project (`app.snapshots`):
the versions page and the Loop page read one grouped query's result, refreshed as labels
arrive, not recomputed on every view."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.domain.safety import UnsafeShare, unsafe_shares
from app.models import Project
from app.quality.figures import comparisons_source
from app.settings import Settings
from app.snapshots import Aggregate, Figures, Snapshots


def _compute(db: Session, project: Project, settings: Settings) -> dict[int, UnsafeShare]:
    return unsafe_shares(db, project)


SAFETY: Aggregate[dict[int, UnsafeShare]] = Aggregate(
    "safety", dict[int, UnsafeShare], comparisons_source, _compute
)


def kept_safety(
    snapshots: Snapshots, db: Session, project: Project
) -> Figures[dict[int, UnsafeShare]]:
    """By version id, its unsafe share as kept, with their time."""
    return snapshots.get(db, SAFETY, project)
