"""Inter-annotator agreement on overlapped pairs from SQL aggregates: raw pairwise agreement
and Krippendorff's alpha (`krippendorff`) from each overlapped pair's choice counts (the same
overlap rows as the annotators' figures), Cohen's kappa per pair of annotators from one
grouped self-join (a contingency table per pair of annotators); no per-label Python."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import comb

import krippendorff
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from app.annotators.stats import OverlapRow, Pattern, overlap_rows
from app.domain.rankings import ranking_agreement
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
    ranked_tasks: int = 0  # ranking tasks two or more annotators ranked
    ranking_tau: float | None = None  # mean Kendall's τ-b between their rankings


def kappa_from_table(table: NDArray[np.int64]) -> float | None:
    """Cohen's kappa from a contingency table (rows: one rater's choices, columns: the
    other's, both in the order of CHOICES); None when undefined (chance agreement is 1)."""
    n = table.sum()
    if n == 0:
        return None
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    disagree = 1 - np.eye(len(table))
    chance = float((disagree * expected).sum())
    if chance == 0:
        return None
    return 1 - float((disagree * table).sum()) / chance


def cohen_kappa(x: list[str], y: list[str]) -> float | None:
    """Cohen's kappa of two raters over the same items; None when undefined."""
    table = np.zeros((len(CHOICES), len(CHOICES)), dtype=np.int64)
    for cx, cy in zip(x, y, strict=True):
        table[CHOICES.index(cx), CHOICES.index(cy)] += 1
    return kappa_from_table(table)


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


def units_of(overlap: list[OverlapRow]) -> dict[Pattern, int]:
    """How many overlapped pairs have each choice-count pattern (from the overlap rows, where
    each pair appears once per label on it)."""
    labels: dict[Pattern, int] = defaultdict(int)
    for _, _, pattern, n in overlap:
        labels[pattern] += n
    return {p: n // sum(p) for p, n in labels.items()}


def pair_tables(db: Session, project_id: int) -> dict[tuple[int, int], NDArray[np.int64]]:
    """For each two annotators (lower user id first) who labelled the same pairs, the
    contingency table of their choices on those pairs."""
    mine, theirs = aliased(Comparison), aliased(Comparison)
    rows = db.execute(
        select(mine.user_id, theirs.user_id, mine.choice, theirs.choice, func.count())
        .join(
            theirs,
            and_(theirs.pair_id == mine.pair_id, theirs.user_id > mine.user_id, theirs.live),
        )
        .where(mine.project_id == project_id, mine.live)
        .group_by(mine.user_id, theirs.user_id, mine.choice, theirs.choice)
    ).all()
    tables: dict[tuple[int, int], NDArray[np.int64]] = {}
    for u, v, cu, cv, n in rows:
        table = tables.get((u, v))
        if table is None:
            table = tables[(u, v)] = np.zeros((len(CHOICES), len(CHOICES)), dtype=np.int64)
        table[CHOICES.index(cu), CHOICES.index(cv)] += int(n)
    return tables


def project_agreement(
    db: Session,
    project_id: int,
    min_shared: int = MIN_SHARED,
    overlap: list[OverlapRow] | None = None,
) -> Agreement:
    """Agreement over every pair of the project that two or more annotators labelled
    (`overlap`: the project's `overlap_rows`, when the caller already has them)."""
    overlap = overlap_rows(db, project_id) if overlap is None else overlap
    units = units_of(overlap)
    result = Agreement(overlapped_pairs=sum(units.values()))
    result.ranked_tasks, result.ranking_tau = ranking_agreement(db, project_id)
    if not units:
        return result
    agree = sum(n * sum(comb(k, 2) for k in p) for p, n in units.items())
    total = sum(n * comb(sum(p), 2) for p, n in units.items())
    result.pairwise_agreement = agree / total
    result.alpha = nominal_alpha(units)
    result.annotators = len({uid for uid, *_ in overlap})
    tables = {uv: t for uv, t in pair_tables(db, project_id).items() if t.sum() >= min_shared}
    people = {u for uv in tables for u in uv}
    names = (
        dict(db.execute(select(User.id, User.username).where(User.id.in_(people))).all())
        if people
        else {}
    )
    kappas = [
        PairKappa(names[u], names[v], int(t.sum()), kappa_from_table(t))
        for (u, v), t in tables.items()
    ]
    result.kappas = sorted(kappas, key=lambda k: (-k.shared, k.user_a, k.user_b))
    return result
