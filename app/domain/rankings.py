"""Rankings of K completions: the pairwise preferences a ranking implies, and agreement.

A ranking is a list of tiers, best first, each a list of completion ids; completions in one
tier are tied. It implies K choose 2 pairwise votes (a tie for two completions in one
tier), which is what the reward model, the export and the a-versus-b comparison read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Completion, Pair, Ranking, RankingItem

Tiers = Sequence[Sequence[int]]


class InvalidRanking(ValueError):
    """A ranking that does not order exactly the task's completions."""


def parse_tiers(raw: str) -> list[list[int]]:
    """`"12,15=17,13"` → `[[12], [15, 17], [13]]` (commas separate tiers, `=` ties)."""
    try:
        tiers = [[int(c) for c in tier.split("=")] for tier in raw.split(",") if tier.strip()]
    except ValueError:
        message = "a ranking is completion ids separated by ',' (or '=' for ties)"
        raise InvalidRanking(message) from None
    return tiers


def check_tiers(tiers: Tiers, completion_ids: Iterable[int]) -> list[list[int]]:
    """The ranking, validated against the task's completions (each exactly once)."""
    expected = sorted(completion_ids)
    flat = sorted(c for tier in tiers for c in tier)
    if flat != expected or any(not tier for tier in tiers):
        raise InvalidRanking(f"rank each of the {len(expected)} responses exactly once")
    if len(tiers) == 1:
        raise InvalidRanking("all responses tied: that says nothing; use skip instead")
    return [list(tier) for tier in tiers]


def rank_of(tiers: Tiers) -> dict[int, int]:
    """Completion id → its tier (1 is best)."""
    return {c: i for i, tier in enumerate(tiers, start=1) for c in tier}


def vote(ranks: dict[int, int], first: int, second: int) -> str:
    """How a ranking judges `first` against `second`: "a" (first better), "b" or "tie"."""
    if ranks[first] == ranks[second]:
        return "tie"
    return "a" if ranks[first] < ranks[second] else "b"


def implied_votes(ranks: dict[int, int], order: Sequence[int]) -> Iterator[tuple[int, int, str]]:
    """Every pair (first, second) of `order` (K choose 2) with the ranking's vote on it."""
    for first, second in combinations(order, 2):
        yield first, second, vote(ranks, first, second)


def kendall_tau_b(x: dict[int, int], y: dict[int, int]) -> float | None:
    """Kendall's τ-b between two rankings of the same completions (ties allowed); None when
    one of them ties everything."""
    concordant = discordant = ties_x = ties_y = 0
    for i, j in combinations(sorted(x), 2):
        dx, dy = x[i] - x[j], y[i] - y[j]
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif (dx > 0) == (dy > 0):
            concordant += 1
        else:
            discordant += 1
    n0 = concordant + discordant
    denominator = math.sqrt((n0 + ties_x) * (n0 + ties_y))
    return (concordant - discordant) / denominator if denominator else None


def mean_pairwise_tau(rankings: Sequence[dict[int, int]]) -> float | None:
    """Mean Kendall's τ-b over every two annotators of one ranking task."""
    taus = [t for a, b in combinations(rankings, 2) if (t := kendall_tau_b(a, b)) is not None]
    return sum(taus) / len(taus) if taus else None


def ranking_agreement(db: Session, project_id: int) -> tuple[int, float | None]:
    """Agreement on rankings: the tasks two or more annotators ranked, and the mean over them
    of the mean Kendall's τ-b between every two of their rankings."""
    by_task: dict[int, list[dict[int, int]]] = {}
    rows = db.execute(
        select(Ranking.pair_id, Ranking.tiers)
        .where(Ranking.project_id == project_id)
        .order_by(Ranking.pair_id, Ranking.id)
    )
    for pair_id, tiers in rows:
        by_task.setdefault(pair_id, []).append(rank_of(tiers))
    taus = [
        tau
        for ranks in by_task.values()
        if len(ranks) > 1 and (tau := mean_pairwise_tau(ranks)) is not None
    ]
    shared = sum(1 for ranks in by_task.values() if len(ranks) > 1)
    return shared, (sum(taus) / len(taus) if taus else None)


def items_of(db: Session, pair_ids: Iterable[int]) -> dict[int, list[tuple[RankingItem, str]]]:
    """Each ranking task's items with their texts, in sampling order."""
    ids = list(pair_ids)
    out: dict[int, list[tuple[RankingItem, str]]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = db.execute(
        select(RankingItem, Completion.text)
        .join(Completion, Completion.id == RankingItem.completion_id)
        .where(RankingItem.pair_id.in_(ids))
        .order_by(RankingItem.pair_id, RankingItem.position)
    )
    for item, text in rows:
        out[item.pair_id].append((item, text))
    return out


def gold_tiers(items: Sequence[RankingItem]) -> dict[int, int] | None:
    """A gold ranking task's known ranks, when every item has one."""
    if not items or any(i.gold_rank is None for i in items):
        return None
    return {i.completion_id: int(i.gold_rank or 0) for i in items}


def add_items(
    db: Session, pair: Pair, completions: Sequence[Completion], gold_ranks: Sequence[int] = ()
) -> list[RankingItem]:
    """Make `pair` a ranking task over `completions` (a and b first); gold ranks optional.

    A gold task's `gold_choice` is set from its gold ranks, so gold accuracy reads it as for
    any pair."""
    if [c.id for c in completions[:2]] != [pair.completion_a_id, pair.completion_b_id]:
        raise ValueError("a ranking task's first two completions are the pair's a and b")
    items = [
        RankingItem(
            pair_id=pair.id,
            completion_id=c.id,
            position=i,
            gold_rank=gold_ranks[i] if gold_ranks else None,
        )
        for i, c in enumerate(completions)
    ]
    db.add_all(items)
    gold = gold_tiers(items)
    if gold is not None:
        pair.gold_choice = vote(gold, completions[0].id, completions[1].id)
    db.flush()
    return items
