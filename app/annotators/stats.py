"""Per-annotator quality figures: throughput, speed, gold accuracy, agreement, position bias."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from scipy.stats import binomtest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Assignment, Comparison, Pair
from app.settings import Settings

# Below these counts a figure is shown but too noisy to flag anyone on.
MIN_GOLD = 5
MIN_OVERLAP = 5
MIN_SIDE_PICKS = 20
MIN_LABELS_FOR_SPEED = 5


@dataclass
class AnnotatorStats:
    labels: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    median_seconds: float | None = None
    gold_total: int = 0
    gold_correct: int = 0
    overlap_pairs: int = 0
    agreements: int = 0
    side_picks: int = 0
    left_picks: int = 0
    bias_p: float | None = None
    ties: int = 0
    both_bad: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    trust_flags: list[str] = field(default_factory=list)

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_total if self.gold_total else None

    @property
    def agreement(self) -> float | None:
        return self.agreements / self.overlap_pairs if self.overlap_pairs else None

    @property
    def left_share(self) -> float | None:
        return self.left_picks / self.side_picks if self.side_picks else None

    @property
    def tie_share(self) -> float | None:
        return self.ties / self.labels if self.labels else None

    @property
    def both_bad_share(self) -> float | None:
        return self.both_bad / self.labels if self.labels else None


def majority(choices: list[str]) -> str | None:
    """The most frequent choice, or None when the top is shared."""
    if not choices:
        return None
    ranked = Counter(choices).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def annotator_stats(
    db: Session, project_id: int, user_id: int, settings: Settings
) -> AnnotatorStats:
    """All figures for one annotator in one project."""
    rows = db.execute(
        select(
            Comparison.pair_id,
            Comparison.choice,
            Comparison.decision_ms,
            Comparison.flags,
            Comparison.created_at,
            Assignment.left_side,
            Pair.kind,
            Pair.gold_choice,
        )
        .join(Assignment, Assignment.id == Comparison.assignment_id)
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(Comparison.project_id == project_id, Comparison.user_id == user_id)
    ).all()
    s = AnnotatorStats(labels=len(rows))
    days: Counter[date] = Counter()
    flags: Counter[str] = Counter()
    mine: dict[int, str] = {}
    times = []
    for pair_id, choice, ms, row_flags, created, left, kind, gold in rows:
        mine[pair_id] = choice
        days[created.date()] += 1
        flags.update(row_flags or [])
        if ms is not None:
            times.append(ms / 1000)
        if kind == "gold" and gold is not None:
            s.gold_total += 1
            s.gold_correct += choice == gold
        if choice in ("a", "b"):
            s.side_picks += 1
            s.left_picks += choice == left
        s.ties += choice == "tie"
        s.both_bad += choice == "both_bad"
    s.per_day = sorted(days.items())
    s.flags = dict(flags.most_common())
    s.median_seconds = statistics.median(times) if times else None
    if s.side_picks:
        s.bias_p = float(binomtest(s.left_picks, s.side_picks, 0.5).pvalue)
    _agreement(db, user_id, mine, s)
    s.trust_flags = trust_flags(s, settings)
    return s


def _agreement(db: Session, user_id: int, mine: dict[int, str], s: AnnotatorStats) -> None:
    """Agreement with the majority of the other annotators on each shared pair."""
    others: dict[int, list[str]] = {}
    ids = list(mine)
    for i in range(0, len(ids), 500):
        for pair_id, choice in db.execute(
            select(Comparison.pair_id, Comparison.choice).where(
                Comparison.pair_id.in_(ids[i : i + 500]), Comparison.user_id != user_id
            )
        ):
            others.setdefault(pair_id, []).append(choice)
    for pair_id, choices in others.items():
        top = majority(choices)
        if top is None:
            continue
        s.overlap_pairs += 1
        s.agreements += mine[pair_id] == top


def trust_flags(s: AnnotatorStats, settings: Settings) -> list[str]:
    """Reasons to look at this annotator; never acted on automatically."""
    out = []
    if s.gold_total >= MIN_GOLD and (s.gold_accuracy or 0) < settings.trust_min_gold_accuracy:
        out.append(f"gold accuracy {s.gold_accuracy:.0%} < {settings.trust_min_gold_accuracy:.0%}")
    if s.overlap_pairs >= MIN_OVERLAP and (s.agreement or 0) < settings.trust_min_agreement:
        out.append(f"agreement {s.agreement:.0%} < {settings.trust_min_agreement:.0%}")
    if (
        s.side_picks >= MIN_SIDE_PICKS
        and s.bias_p is not None
        and s.bias_p < settings.trust_max_bias_p
    ):
        out.append(f"position bias: left {s.left_share:.0%} (p={s.bias_p:.2g})")
    if (
        s.labels >= MIN_LABELS_FOR_SPEED
        and s.median_seconds is not None
        and s.median_seconds < settings.trust_min_median_seconds
    ):
        out.append(f"fast: median {s.median_seconds:.1f}s per label")
    return out
