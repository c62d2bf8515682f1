"""Bias checks by annotator cohort: for each dimension of the admins' tags (language,
region, …), each cohort's preference for the longer response and its head-to-head win share
of the newer version, side by side with 95 % Wilson intervals and a chi-square test that
the cohorts differ; and agreement on shared pairs within each cohort and between cohorts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.annotators.cohorts import tags_by_user
from app.annotators.stats import length_picks
from app.domain.intervals import shares_differ_p, wilson_interval
from app.models import Comparison, Completion, Pair, PolicyVersion

LEVEL = 0.95


@dataclass
class Share:
    hits: float
    n: int
    estimate: float | None
    low: float
    high: float

    @classmethod
    def of(cls, hits: float, n: int) -> Share:
        iv = wilson_interval(hits, n, LEVEL)
        return cls(hits, n, iv.estimate if n else None, iv.low, iv.high)


@dataclass
class Cohort:
    value: str
    annotators: int
    longer: Share  # picks of the longer response among decisive picks on unequal pairs
    newer_wins: Share  # head-to-head: the newer version preferred (ties half)
    agreement: Share  # within the cohort: agreeing label pairs on shared pairs


@dataclass
class Dimension:
    name: str
    cohorts: list[Cohort] = field(default_factory=list)
    longer_p: float | None = None  # chi-square: the cohorts' longer shares differ
    newer_wins_p: float | None = None
    between: Share = field(default_factory=lambda: Share.of(0, 0))  # across cohorts
    agreement_p: float | None = None  # within-cohort vs between-cohort agreement


def _newer_wins(db: Session, project_id: int) -> dict[int, tuple[float, int]]:
    """Per user, (votes for the newer version, ties half; judged votes) on head-to-head pairs."""
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    ver_a, ver_b = aliased(PolicyVersion), aliased(PolicyVersion)
    rows = db.execute(
        select(Comparison.user_id, Comparison.choice, ver_a.number, ver_b.number)
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .join(ver_a, ver_a.id == comp_a.policy_version_id)
        .join(ver_b, ver_b.id == comp_b.policy_version_id)
        .where(
            Comparison.project_id == project_id,
            Comparison.live,
            Pair.kind == "head_to_head",
            Comparison.choice != "both_bad",
        )
    ).all()
    out: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    for uid, choice, na, nb in rows:
        if na == nb:
            continue
        newer = "a" if na > nb else "b"
        out[uid][0] += 0.5 if choice == "tie" else float(choice == newer)
        out[uid][1] += 1
    return {u: (w, int(n)) for u, (w, n) in out.items()}


def cohort_figures(
    db: Session, project_id: int, tables: dict[tuple[int, int], NDArray[np.int64]]
) -> list[Dimension]:
    """Every tag dimension's cohorts (`tables`: `agreement.pair_tables` of the project)."""
    tags = tags_by_user(db)
    if not tags:
        return []
    longer = length_picks(db, project_id)
    newer = _newer_wins(db, project_id)
    dims = sorted({d for t in tags.values() for d in t})
    out = []
    for name in dims:
        cohort_of = {u: t[name] for u, t in tags.items() if name in t}
        members: dict[str, list[int]] = defaultdict(list)
        for u, value in cohort_of.items():
            members[value].append(u)
        within: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        between = [0, 0]
        for (u, v), table in tables.items():
            if u not in cohort_of or v not in cohort_of:
                continue
            agree, total = int(np.trace(table)), int(table.sum())
            slot = within[cohort_of[u]] if cohort_of[u] == cohort_of[v] else between
            slot[0] += agree
            slot[1] += total
        dim = Dimension(name)
        for value in sorted(members):
            users = members[value]
            lk = sum(longer.get(u, (0, 0))[0] for u in users)
            ln = sum(longer.get(u, (0, 0))[1] for u in users)
            nw = sum(newer.get(u, (0.0, 0))[0] for u in users)
            nn = sum(newer.get(u, (0.0, 0))[1] for u in users)
            agree, total = within[value]
            dim.cohorts.append(
                Cohort(
                    value, len(users), Share.of(lk, ln), Share.of(nw, nn), Share.of(agree, total)
                )
            )
        dim.longer_p = shares_differ_p([(c.longer.hits, c.longer.n) for c in dim.cohorts])
        dim.newer_wins_p = shares_differ_p(
            [(c.newer_wins.hits, c.newer_wins.n) for c in dim.cohorts]
        )
        within_all = (sum(w[0] for w in within.values()), sum(w[1] for w in within.values()))
        dim.between = Share.of(*between)
        dim.agreement_p = shares_differ_p([within_all, (between[0], between[1])])
        out.append(dim)
    return out
