"""Project-wide agreement and trust flags from a few SQL aggregates (no per-row Python).

The quality page and the annotator page compute the same figures row by row; at hundreds
of thousands of comparisons the dashboard needs them in one pass of the database instead.
The numbers are the same: Krippendorff's alpha (the `krippendorff` library, fed with
per-pair value counts) and `trust_flags` of `app.annotators.stats` on per-user totals.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np
from scipy.stats import binomtest
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from app.annotators.stats import AnnotatorStats, majority, trust_flags
from app.models import Assignment, Comparison, Pair, User
from app.models.labeling import CHOICES
from app.settings import Settings

Pattern = tuple[int, ...]  # labels per choice on one pair, in the order of CHOICES


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


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _overlap_rows(db: Session, project_id: int) -> list[tuple[int, str, Pattern, int]]:
    """(user, their choice, the pair's choice counts, how many such labels) on pairs that
    two or more annotators labelled."""
    per_pair = (
        select(
            Comparison.pair_id,
            *[_count(Comparison.choice == c).label(c) for c in CHOICES],
        )
        .where(Comparison.project_id == project_id)
        .group_by(Comparison.pair_id)
        .having(func.count() >= 2)
        .subquery()
    )
    counts = [per_pair.c[c] for c in CHOICES]
    rows = db.execute(
        select(Comparison.user_id, Comparison.choice, *counts, func.count())
        .join(per_pair, per_pair.c.pair_id == Comparison.pair_id)
        .group_by(Comparison.user_id, Comparison.choice, *counts)
    ).all()
    return [(r[0], r[1], tuple(int(v) for v in r[2:-1]), int(r[-1])) for r in rows]


def _alpha(units: dict[Pattern, int], raters: int) -> float | None:
    values_used = sum(1 for k in range(len(CHOICES)) if any(p[k] for p in units))
    if raters < 2 or values_used < 2:
        return None
    patterns = np.array(list(units), dtype=float)
    value_counts = np.repeat(patterns, list(units.values()), axis=0)
    return float(krippendorff.alpha(value_counts=value_counts, level_of_measurement="nominal"))


def _per_user(db: Session, project_id: int) -> dict[int, AnnotatorStats]:
    side = Comparison.choice.in_(("a", "b"))
    gold = and_(Pair.kind == "gold", Pair.gold_choice.is_not(None))
    rows = db.execute(
        select(
            Comparison.user_id,
            func.count(),
            _count(gold),
            _count(and_(gold, Comparison.choice == Pair.gold_choice)),
            _count(side),
            _count(and_(side, Comparison.choice == Assignment.left_side)),
            _count(Comparison.choice == "tie"),
            _count(Comparison.choice == "both_bad"),
        )
        .join(Assignment, Assignment.id == Comparison.assignment_id)
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(Comparison.project_id == project_id)
        .group_by(Comparison.user_id)
    ).all()
    out = {}
    for uid, labels, g_total, g_right, sides, lefts, ties, both_bad in rows:
        s = AnnotatorStats(
            labels=int(labels),
            gold_total=int(g_total),
            gold_correct=int(g_right),
            side_picks=int(sides),
            left_picks=int(lefts),
            ties=int(ties),
            both_bad=int(both_bad),
        )
        if s.side_picks:
            s.bias_p = float(binomtest(s.left_picks, s.side_picks, 0.5).pvalue)
        out[uid] = s
    return out


def _medians(db: Session, project_id: int) -> dict[int, float]:
    """Median seconds per label of each user: the middle row(s) by a window numbering."""
    ranked = (
        select(
            Comparison.user_id,
            Comparison.decision_ms,
            func.row_number()
            .over(partition_by=Comparison.user_id, order_by=Comparison.decision_ms)
            .label("rn"),
            func.count().over(partition_by=Comparison.user_id).label("n"),
        )
        .where(Comparison.project_id == project_id, Comparison.decision_ms.is_not(None))
        .subquery()
    )
    rows = db.execute(
        select(ranked.c.user_id, func.avg(ranked.c.decision_ms))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.user_id)
    ).all()
    return {uid: float(ms) / 1000 for uid, ms in rows}


def project_quality(
    db: Session, project_id: int, settings: Settings
) -> tuple[OverallAgreement, list[Flagged]]:
    """Alpha over all overlapped pairs, and every annotator a trust rule flags."""
    overlap = _overlap_rows(db, project_id)
    units: dict[Pattern, int] = defaultdict(int)
    for _, _, pattern, n in overlap:
        units[pattern] += n  # each pair appears once per label on it
    units = {p: n // sum(p) for p, n in units.items()}
    raters = {uid for uid, *_ in overlap}
    agreement = OverallAgreement(sum(units.values()), len(raters), _alpha(units, len(raters)))

    stats = _per_user(db, project_id)
    for uid, seconds in _medians(db, project_id).items():
        stats[uid].median_seconds = seconds
    for uid, choice, pattern, n in overlap:
        # The others' labels on such a pair: the pattern less this user's own choice.
        others = [c for c, k in zip(CHOICES, pattern, strict=True) for _ in range(k)]
        others.remove(choice)
        top = majority(others)
        if top is not None:
            stats[uid].overlap_pairs += n
            stats[uid].agreements += n * (choice == top)
    flagged = {uid: trust_flags(s, settings) for uid, s in stats.items()}
    flagged = {uid: f for uid, f in flagged.items() if f}
    names = (
        dict(db.execute(select(User.id, User.username).where(User.id.in_(flagged))).all())
        if flagged
        else {}
    )
    out = [Flagged(uid, names[uid], stats[uid].labels, f) for uid, f in flagged.items()]
    return agreement, sorted(out, key=lambda f: f.username)
