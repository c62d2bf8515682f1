"""Head-to-head comparisons of a project → ratings, intervals and the win-rate matrix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.domain.intervals import wilson_interval
from app.models import (
    Comparison,
    Completion,
    Pair,
    PlaygroundMatch,
    PolicyVersion,
    Project,
    User,
)
from app.vocabulary import MatchSource
from app.winrates.schemas import (
    DirectWinRate,
    EvaluatorFilter,
    ExternalTally,
    LeaderboardOut,
    VersionRating,
    VoteSource,
)
from app.winrates.stats import (
    Interval,
    Outcomes,
    count_matrix,
    probability_intervals,
    rating_intervals,
    win_probability,
    win_rate_matrix,
)

LEVEL = 0.95
SCORE_OF_A = {"a": 1.0, "b": 0.0, "tie": 0.5}


def head_to_head_judgements(
    db: Session,
    project_id: int,
    evaluators: EvaluatorFilter = "all",
    source: VoteSource = "blind",
) -> list[tuple[int, int, str]]:
    """(version of answer a, version of answer b, choice) for each judgement: blind ones are
    the labelled head-to-head pairs, then the anonymous battles; "playground" the named
    playground votes between two versions."""
    rows: list[tuple[int, int, str]] = []
    if source == "blind":
        comp_a, comp_b = aliased(Completion), aliased(Completion)
        stmt = (
            select(comp_a.policy_version_id, comp_b.policy_version_id, Comparison.choice)
            .select_from(Comparison)
            .join(Pair, Pair.id == Comparison.pair_id)
            .join(comp_a, comp_a.id == Pair.completion_a_id)
            .join(comp_b, comp_b.id == Pair.completion_b_id)
            .where(Pair.project_id == project_id, Pair.kind == "head_to_head", Comparison.live)
            .order_by(Comparison.id)
        )
        rows += [(a, b, choice) for a, b, choice in db.execute(_by(stmt, Comparison, evaluators))]
    matches = (
        select(PlaygroundMatch.version_a_id, PlaygroundMatch.version_b_id, PlaygroundMatch.choice)
        .where(
            PlaygroundMatch.project_id == project_id,
            PlaygroundMatch.source
            == (MatchSource.battle if source == "blind" else MatchSource.playground),
            PlaygroundMatch.choice.is_not(None),
            PlaygroundMatch.version_a_id.is_not(None),
            PlaygroundMatch.version_b_id.is_not(None),
        )
        .order_by(PlaygroundMatch.id)
    )
    rows += [(a, b, c) for a, b, c in db.execute(_by(matches, PlaygroundMatch, evaluators))]
    return rows


def _by(stmt: Any, table: Any, evaluators: EvaluatorFilter) -> Any:
    """`stmt` kept to the votes of people, or of simulated annotators, when asked."""
    if evaluators == "all":
        return stmt
    return stmt.join(User, User.id == table.user_id).where(
        User.simulated.is_(evaluators == "simulated")
    )


def external_tallies(
    db: Session, project: Project, evaluators: EvaluatorFilter = "all"
) -> list[ExternalTally]:
    """Named playground votes between a version (side a) and an external model (side b)."""
    stmt = (
        select(PolicyVersion.id, PolicyVersion.number, PlaygroundMatch.model_b)
        .add_columns(PlaygroundMatch.choice)
        .join(PolicyVersion, PolicyVersion.id == PlaygroundMatch.version_a_id)
        .where(
            PlaygroundMatch.project_id == project.id,
            PlaygroundMatch.source == MatchSource.playground,
            PlaygroundMatch.choice.is_not(None),
            PlaygroundMatch.model_b.is_not(None),
        )
    )
    tallies: dict[tuple[int, int, str], dict[str, int]] = {}
    for version_id, number, model, choice in db.execute(_by(stmt, PlaygroundMatch, evaluators)):
        counts = tallies.setdefault((version_id, number, model), Counter())
        counts[choice] += 1
    return [
        ExternalTally(
            version_id=version_id,
            number=number,
            model=model,
            wins=c["a"],
            losses=c["b"],
            ties=c["tie"],
            both_bad=c["both_bad"],
        )
        for (version_id, number, model), c in sorted(tallies.items(), key=lambda kv: kv[0][1:])
    ]


def _outcome_rows(
    db: Session, project: Project, evaluators: EvaluatorFilter, source: VoteSource = "blind"
) -> tuple[list[PolicyVersion], list[tuple[int, int, float]], int]:
    """The project's versions by number, its judgements as (index a, index b, a's score), and
    how many "both bad" judgements were left out."""
    versions = list(
        db.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.project_id == project.id)
            .order_by(PolicyVersion.number)
        )
    )
    index = {v.id: k for k, v in enumerate(versions)}
    rows: list[tuple[int, int, float]] = []
    both_bad = 0
    judgements = head_to_head_judgements(db, project.id, evaluators, source)
    for version_a, version_b, choice in judgements:
        if choice == "both_bad":
            both_bad += 1
        elif version_a != version_b and version_a in index and version_b in index:
            rows.append((index[version_a], index[version_b], SCORE_OF_A[choice]))
    return versions, rows, both_bad


@dataclass(frozen=True)
class LineageWinRates:
    """A version's modelled chance of beating its parent and version 0 (None: not rated)."""

    comparisons: int
    vs_parent: Interval | None
    vs_zero: Interval | None


def lineage_win_rates(
    db: Session, project: Project, *, bootstrap: int = 200, seed: int = 0
) -> dict[int, LineageWinRates]:
    """By version id: P(beats its parent) and P(beats v0), Bradley–Terry with intervals from
    one fit and one bootstrap over every head-to-head judgement of the project."""
    versions, rows, _ = _outcome_rows(db, project, "all")
    counts = count_matrix(Outcomes.from_rows(rows), len(versions))
    # Only versions that met another are fitted, renumbered 0..n-1 (as in `leaderboard`).
    local = {k: pos for pos, k in enumerate(k for k in range(len(versions)) if counts[k].sum())}
    position = {v.id: k for k, v in enumerate(versions)}
    zero = next((k for k, v in enumerate(versions) if v.number == 0), None)

    def parent_of(k: int) -> int | None:
        parent_id = versions[k].parent_id
        return position.get(parent_id) if parent_id else (k - 1 if k else None)

    wanted = {
        (k, other): (local[k], local[other])
        for k in local
        for other in (parent_of(k), zero)
        if other is not None and other != k and other in local
    }
    sub = Outcomes.from_rows([(local[i], local[j], s) for i, j, s in rows])
    pairs = list(wanted.values())
    intervals = (
        probability_intervals(sub, len(local), pairs, bootstrap, LEVEL, seed) if pairs else []
    )
    found = dict(zip(wanted, intervals, strict=True))
    out = {}
    for k, version in enumerate(versions):
        parent = parent_of(k)
        out[version.id] = LineageWinRates(
            comparisons=int(counts[k].sum()),
            vs_parent=found.get((k, parent)) if parent is not None else None,
            vs_zero=found.get((k, zero)) if zero is not None else None,
        )
    return out


def leaderboard(
    db: Session,
    project: Project,
    *,
    evaluators: EvaluatorFilter = "all",
    source: VoteSource = "blind",
    bootstrap: int = 200,
    seed: int = 0,
) -> LeaderboardOut:
    """Bradley–Terry ratings with bootstrap intervals, direct win-rates and the raw matrix,
    from the blind votes or from the playground's named ones."""
    versions, rows, both_bad = _outcome_rows(db, project, evaluators, source)
    outcomes = Outcomes.from_rows(rows)
    n = len(versions)
    counts = count_matrix(outcomes, n)
    seen = [k for k in range(n) if counts[k].sum() > 0]
    reference = seen[0] if seen else None

    ratings: dict[int, tuple[float, float, float]] = {}
    if reference is not None:
        # Fit only the versions that were compared; the rest have no rating.
        local = {k: pos for pos, k in enumerate(seen)}
        sub = Outcomes.from_rows([(local[i], local[j], s) for i, j, s in rows])
        intervals = rating_intervals(sub, len(seen), 0, bootstrap, LEVEL, seed)
        ratings = {k: (iv.estimate, iv.low, iv.high) for k, iv in zip(seen, intervals, strict=True)}

    rates = win_rate_matrix(outcomes, n)
    out = []
    for k, version in enumerate(versions):
        rating = ratings.get(k)
        direct = None
        if reference is not None and k != reference and counts[k, reference] > 0:
            n_direct = int(counts[k, reference])
            score = float(rates[k][reference] or 0.0) * n_direct
            wilson = wilson_interval(score, n_direct, LEVEL)
            direct = DirectWinRate(
                comparisons=n_direct,
                score=score,
                rate=wilson.estimate,
                low=wilson.low,
                high=wilson.high,
            )
        out.append(
            VersionRating(
                version_id=version.id,
                number=version.number,
                status=version.status,
                comparisons=int(counts[k].sum()),
                rating=rating[0] if rating else None,
                rating_low=rating[1] if rating else None,
                rating_high=rating[2] if rating else None,
                win_probability=win_probability(rating[0]) if rating else None,
                win_probability_low=win_probability(rating[1]) if rating else None,
                win_probability_high=win_probability(rating[2]) if rating else None,
                vs_reference=direct,
            )
        )
    return LeaderboardOut(
        project_id=project.id,
        reference_version_id=versions[reference].id if reference is not None else None,
        reference_number=versions[reference].number if reference is not None else None,
        evaluators=evaluators,
        source=source,
        comparisons=len(rows),
        both_bad_excluded=both_bad,
        level=LEVEL,
        bootstrap_samples=bootstrap if rows else 0,
        versions=out,
        win_rates=rates,
        counts=counts.tolist(),
        external=external_tallies(db, project, evaluators) if source == "playground" else [],
    )
