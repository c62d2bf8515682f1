"""Inter-annotator agreement on overlapped pairs: raw pairwise agreement, Cohen's kappa per
pair of annotators (scikit-learn) and Krippendorff's alpha over all of them (`krippendorff`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Comparison, User
from app.models.labeling import CHOICES

MIN_SHARED = 5  # fewer shared pairs than this make a kappa meaningless


@dataclass
class PairKappa:
    user_a: str
    user_b: str
    shared: int
    kappa: float | None


@dataclass
class Agreement:
    overlapped_pairs: int = 0
    annotators: int = 0
    pairwise_agreement: float | None = None
    alpha: float | None = None
    kappas: list[PairKappa] = field(default_factory=list)


def cohen_kappa(x: list[str], y: list[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when undefined."""
    value = cohen_kappa_score(x, y, labels=list(CHOICES))
    return None if np.isnan(value) else float(value)


def nominal_alpha(patterns: Mapping[tuple[int, ...], int]) -> float | None:
    """Krippendorff's alpha (nominal), the one implementation every page shows.

    `patterns` maps a unit's value counts (labels per choice, in the order of CHOICES) to how
    many units have them; nominal alpha depends on nothing else. None when undefined (fewer
    than two values used, or no unit with two labels)."""
    units = {p: n for p, n in patterns.items() if n and sum(p) >= 2}
    values_used = sum(1 for k in range(len(CHOICES)) if any(p[k] for p in units))
    if values_used < 2:
        return None
    value_counts = np.repeat(np.array(list(units), dtype=float), list(units.values()), axis=0)
    return float(krippendorff.alpha(value_counts=value_counts, level_of_measurement="nominal"))


def krippendorff_alpha(units: list[dict[int, str]]) -> float | None:
    """Nominal alpha; each unit maps rater → choice. None when undefined (one value only)."""
    patterns: Counter[tuple[int, ...]] = Counter(
        tuple(sum(1 for c in unit.values() if c == choice) for choice in CHOICES) for unit in units
    )
    return nominal_alpha(patterns)


def project_agreement(db: Session, project_id: int, min_shared: int = MIN_SHARED) -> Agreement:
    """Agreement over every pair of the project that two or more annotators labelled."""
    overlapped = (
        select(Comparison.pair_id)
        .where(Comparison.project_id == project_id)
        .group_by(Comparison.pair_id)
        .having(func.count() >= 2)
    )
    rows = db.execute(
        select(Comparison.pair_id, Comparison.user_id, Comparison.choice).where(
            Comparison.pair_id.in_(overlapped)
        )
    ).all()
    units: dict[int, dict[int, str]] = defaultdict(dict)
    for pair_id, user_id, choice in rows:
        units[pair_id][user_id] = choice
    result = Agreement(overlapped_pairs=len(units))
    if not units:
        return result
    agree = total = 0
    shared: dict[tuple[int, int], tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for unit in units.values():
        for (u, cu), (v, cv) in combinations(sorted(unit.items()), 2):
            agree += cu == cv
            total += 1
            xs, ys = shared[(u, v)]
            xs.append(cu)
            ys.append(cv)
    result.pairwise_agreement = agree / total
    result.alpha = krippendorff_alpha(list(units.values()))
    people = {u for unit in units.values() for u in unit}
    result.annotators = len(people)
    names = dict(db.execute(select(User.id, User.username).where(User.id.in_(people))).all())
    for (u, v), (xs, ys) in sorted(shared.items(), key=lambda kv: -len(kv[1][0])):
        if len(xs) >= min_shared:
            result.kappas.append(PairKappa(names[u], names[v], len(xs), cohen_kappa(xs, ys)))
    return result
