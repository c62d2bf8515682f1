"""The dashboard's quality summary: alpha over all overlapped pairs and every annotator a
trust rule flags, from the quality page's own figures (`app.quality.figures`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User
from app.quality.figures import QualityFigures


@dataclass(frozen=True)
class OverallAgreement:
    overlapped_pairs: int
    annotators: int
    alpha: float | None


@dataclass(frozen=True)
class Flagged:
    user_id: int
    username: str
    labels: int
    flags: list[str]


def summary(db: Session, figures: QualityFigures) -> tuple[OverallAgreement, list[Flagged]]:
    """Alpha with its counts, and the flagged annotators by name."""
    a = figures.agreement
    agreement = OverallAgreement(a.overlapped_pairs, a.annotators, a.alpha)
    flagged = {uid: s for uid, s in figures.annotators.items() if s.trust_flags}
    names = (
        dict(db.execute(select(User.id, User.username).where(User.id.in_(flagged))).all())
        if flagged
        else {}
    )
    out = [Flagged(uid, names[uid], s.labels, list(s.trust_flags)) for uid, s in flagged.items()]
    return agreement, sorted(out, key=lambda f: f.username)
