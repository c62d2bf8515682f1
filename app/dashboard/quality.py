"""Project-wide agreement and trust flags from a few SQL aggregates (no per-row Python).

Krippendorff's alpha (`app.quality.agreement.nominal_alpha`, the quality page's own) over
the overlap rows of `app.annotators.stats`, and the trust rules of `app.annotators.figures`
on each annotator's totals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.annotators.figures import trust_flags
from app.annotators.stats import Pattern, add_agreement, median_seconds, overlap_rows, totals
from app.models import User
from app.quality.agreement import nominal_alpha
from app.settings import Settings


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


def project_quality(
    db: Session, project_id: int, settings: Settings
) -> tuple[OverallAgreement, list[Flagged]]:
    """Alpha over all overlapped pairs, and every annotator a trust rule flags."""
    overlap = overlap_rows(db, project_id)
    units: dict[Pattern, int] = defaultdict(int)
    for _, _, pattern, n in overlap:
        units[pattern] += n  # each pair appears once per label on it
    units = {p: n // sum(p) for p, n in units.items()}
    raters = {uid for uid, *_ in overlap}
    agreement = OverallAgreement(sum(units.values()), len(raters), nominal_alpha(units))

    stats = totals(db, project_id)
    for uid, seconds in median_seconds(db, project_id).items():
        stats[uid].median_seconds = seconds
    add_agreement(stats, overlap)
    flagged = {uid: trust_flags(s, settings) for uid, s in stats.items()}
    flagged = {uid: f for uid, f in flagged.items() if f}
    names = (
        dict(db.execute(select(User.id, User.username).where(User.id.in_(flagged))).all())
        if flagged
        else {}
    )
    out = [Flagged(uid, names[uid], stats[uid].labels, f) for uid, f in flagged.items()]
    return agreement, sorted(out, key=lambda f: f.username)
