"""Annotators' quality figures from SQL aggregates, for one annotator (the annotator page
and API) or for every annotator of a project at once (the quality page and the dashboard):
a handful of grouped queries whatever the number of labels, no per-label Python.

The figures themselves and the trust rules are in `app.annotators.figures`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from scipy.stats import binomtest
from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from app.annotators.figures import AnnotatorStats, trust_flags
from app.domain.preferences import majority
from app.models import Assignment, Comparison, Completion, Pair
from app.models.labeling import CHOICES
from app.settings import Settings

Pattern = tuple[int, ...]  # labels per choice on one pair, in the order of CHOICES
# (user, their choice, the pair's choice counts, how many such labels of theirs)
OverlapRow = tuple[int, str, Pattern, int]


def count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column."""
    # Postgres would cut a timestamptz at midnight of the session's time zone, not UTC's.
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _scope(project_id: int, user_id: int | None) -> list[ColumnElement[bool]]:
    where = [Comparison.project_id == project_id, Comparison.live.expression]
    if user_id is not None:
        where.append(Comparison.user_id == user_id)
    return where


def totals(db: Session, project_id: int, user_id: int | None = None) -> dict[int, AnnotatorStats]:
    """Label counts per user: all, gold (and right), left/right picks (and left), ties, both bad."""
    side = Comparison.choice.in_(("a", "b"))
    gold = and_(Pair.kind == "gold", Pair.gold_choice.is_not(None))
    rows = db.execute(
        select(
            Comparison.user_id,
            func.count(),
            count_where(gold),
            count_where(and_(gold, Comparison.choice == Pair.gold_choice)),
            count_where(side),
            count_where(and_(side, Comparison.choice == Assignment.left_side)),
            count_where(Comparison.choice == "tie"),
            count_where(Comparison.choice == "both_bad"),
        )
        .join(Assignment, Assignment.id == Comparison.assignment_id)
        .join(Pair, Pair.id == Comparison.pair_id)
        .where(*_scope(project_id, user_id))
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


def length_picks(db: Session, project_id: int) -> dict[int, tuple[int, int]]:
    """Per user, (picks of the longer response, decisive picks) on pairs whose two responses
    differ in length (characters); project-wide, as the others' share needs everyone's."""
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    len_a, len_b = func.length(comp_a.text), func.length(comp_b.text)
    longer = case((len_a > len_b, "a"), else_="b")
    rows = db.execute(
        select(Comparison.user_id, count_where(Comparison.choice == longer), func.count())
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .where(
            Comparison.project_id == project_id,
            Comparison.live,
            Comparison.choice.in_(("a", "b")),
            len_a != len_b,
        )
        .group_by(Comparison.user_id)
    ).all()
    return {uid: (int(k), int(n)) for uid, k, n in rows}


def add_length_bias(stats: dict[int, AnnotatorStats], picks: dict[int, tuple[int, int]]) -> None:
    """Each user's share of longer picks, beside the others' share, with a binomial test."""
    all_longer = sum(k for k, _ in picks.values())
    all_n = sum(n for _, n in picks.values())
    for uid, (longer, n) in picks.items():
        if uid not in stats:
            continue
        s = stats[uid]
        s.longer_picks, s.length_picks = longer, n
        others_n = all_n - n
        if others_n:
            s.others_longer_share = (all_longer - longer) / others_n
            if 0 < s.others_longer_share < 1:
                s.length_p = float(binomtest(longer, n, s.others_longer_share).pvalue)


def median_seconds(db: Session, project_id: int, user_id: int | None = None) -> dict[int, float]:
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
        .where(*_scope(project_id, user_id), Comparison.decision_ms.is_not(None))
        .subquery()
    )
    rows = db.execute(
        select(ranked.c.user_id, func.avg(ranked.c.decision_ms))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.user_id)
    ).all()
    return {uid: float(ms) / 1000 for uid, ms in rows}


def overlap_rows(db: Session, project_id: int, user_id: int | None = None) -> list[OverlapRow]:
    """Labels on pairs that two or more annotators labelled, grouped by user, choice and the
    pair's choice counts; with `user_id`, only that user's labels (and only their pairs)."""
    per_pair = select(
        Comparison.pair_id, *[count_where(Comparison.choice == c).label(c) for c in CHOICES]
    ).where(Comparison.project_id == project_id, Comparison.live)
    if user_id is not None:
        theirs = aliased(Comparison)
        per_pair = per_pair.where(
            Comparison.pair_id.in_(
                select(theirs.pair_id).where(
                    theirs.project_id == project_id, theirs.user_id == user_id, theirs.live
                )
            )
        )
    pairs = per_pair.group_by(Comparison.pair_id).having(func.count() >= 2).subquery()
    counts = [pairs.c[c] for c in CHOICES]
    query = (
        select(Comparison.user_id, Comparison.choice, *counts, func.count())
        .join(pairs, pairs.c.pair_id == Comparison.pair_id)
        .where(Comparison.live)
    )
    if user_id is not None:
        query = query.where(Comparison.user_id == user_id)
    rows = db.execute(query.group_by(Comparison.user_id, Comparison.choice, *counts)).all()
    return [(r[0], r[1], tuple(int(v) for v in r[2:-1]), int(r[-1])) for r in rows]


def add_agreement(stats: dict[int, AnnotatorStats], overlap: list[OverlapRow]) -> None:
    """Agreement of each user with the majority of the others on the pairs they share."""
    for uid, choice, pattern, n in overlap:
        # The others' labels on such a pair: the pattern less this user's own choice.
        others = [c for c, k in zip(CHOICES, pattern, strict=True) for _ in range(k)]
        others.remove(choice)
        top = majority(others)
        if top is not None and uid in stats:
            stats[uid].overlap_pairs += n
            stats[uid].agreements += n * (choice == top)


def labels_per_user_day(
    db: Session, project_id: int, user_id: int | None = None
) -> dict[int, list[tuple[date, int]]]:
    """Each user's labels per UTC day, oldest day first (days without labels left out)."""
    day = utc_day(Comparison.created_at, db.get_bind().dialect.name).label("day")
    rows = db.execute(
        select(Comparison.user_id, day, func.count())
        .where(*_scope(project_id, user_id))
        .group_by(Comparison.user_id, day)
        .order_by(Comparison.user_id, day)
    ).all()
    out: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for uid, d, n in rows:
        out[uid].append((d if isinstance(d, date) else date.fromisoformat(d), int(n)))
    return out


def flag_counts(
    db: Session, project_id: int, user_id: int | None = None
) -> dict[int, dict[str, int]]:
    """How often each user raised each content flag, most frequent first."""
    counters: dict[int, Counter[str]] = defaultdict(Counter)
    for uid, flags in db.execute(
        select(Comparison.user_id, Comparison.flags).where(
            *_scope(project_id, user_id), func.json_array_length(Comparison.flags) > 0
        )
    ):
        counters[uid].update(flags)
    return {uid: dict(c.most_common()) for uid, c in counters.items()}


def project_annotator_stats(
    db: Session,
    project_id: int,
    settings: Settings,
    user_id: int | None = None,
    overlap: list[OverlapRow] | None = None,
) -> dict[int, AnnotatorStats]:
    """Every figure of every annotator who labelled in the project (or only `user_id`);
    `overlap`: the `overlap_rows` of the same scope, when the caller already has them."""
    stats = totals(db, project_id, user_id)
    for uid, seconds in median_seconds(db, project_id, user_id).items():
        stats[uid].median_seconds = seconds
    add_agreement(stats, overlap_rows(db, project_id, user_id) if overlap is None else overlap)
    for uid, days in labels_per_user_day(db, project_id, user_id).items():
        stats[uid].per_day = days
    for uid, flags in flag_counts(db, project_id, user_id).items():
        stats[uid].flags = flags
    add_length_bias(stats, length_picks(db, project_id))
    for s in stats.values():
        s.trust_flags = trust_flags(s, settings)
    return stats


def annotator_stats(
    db: Session, project_id: int, user_id: int, settings: Settings
) -> AnnotatorStats:
    """All figures for one annotator in one project (zeros when they have not labelled)."""
    found = project_annotator_stats(db, project_id, settings, user_id)
    return found.get(user_id) or AnnotatorStats()
