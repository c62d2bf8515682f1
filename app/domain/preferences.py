"""Comparisons → preference rows: the one rule for what the loop learns from.

The trainer's snapshot and the TRL export both read their rows from `preference_rows`,
so an exported file holds exactly what a run at the same watermark trains on:

- only the project's comparisons up to the watermark (and in the date/tag window asked);
- labels of deactivated annotators never count; those an admin excluded for quality, and
  those of simulated annotators, count only when asked;
- held-out prompts are the evaluation set and never yield a training row;
- ties and both-bad teach no preference: they are left out, unless the caller counts them
  as votes (then a pair whose plurality is tie or both-bad is dropped too);
- a pair a reviewer adjudicated is decided by the adjudicated label, whatever its votes;
  otherwise an overlapped pair is decided by majority (a split vote is dropped), a gold
  pair by its gold answer, whatever its annotators said;
- the strength of a row is the most common strength among the winning votes;
- imported preference data (app/domain/imported.py) joins only when asked;
- a ranking of K completions (app/domain/rankings.py) yields its K choose 2 implied
  preferences, each decided like a pair of its own (majority over the annotators' rankings,
  ties by the same rule, a gold task by its gold ranks, an adjudicated label for its a–b
  pair); the rows of one ranking share its `pair_id`, which the reward model's batches keep
  together.
- with annotator weights (`annotator_weights`), a row weighs what its winning voters' gold
  accuracy says they are worth on average; a gold or adjudicated row weighs 1.

With the recipe option `demonstrations_preferred`, a demonstration written on a pair also
counts as preferred over both of that pair's responses (`demonstration_preference_rows`:
two rows, one per response, unless the demonstration is that response unchanged).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations, groupby, islice
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from app.domain import rankings
from app.domain.demonstrations import DemonstrationSelection, demonstration_scope
from app.domain.imported import imported_judgements, prompt_has_tag
from app.domain.messages import PromptValue, prompt_value
from app.domain.project_settings import settings_of
from app.models import (
    Adjudication,
    Comparison,
    Completion,
    Demonstration,
    Pair,
    Project,
    Prompt,
    Ranking,
    RankingItem,
    User,
)
from app.vocabulary import ReviewStatus

PREFERENCE_CHOICES = ("a", "b")
BATCH = 1000
RANKING_CHUNK = 200  # ranking tasks whose completion texts are read in one query
# Gold accuracy is smoothed towards PRIOR_ACCURACY with PRIOR_VOTES pseudo-answers, so an
# annotator with no or few gold answers gets a middling weight, not 0 or 1.
PRIOR_ACCURACY = 0.75
PRIOR_VOTES = 4.0
MIN_WEIGHT = 0.05


@dataclass
class PreferenceRow:
    prompt: PromptValue
    chosen: str
    rejected: str
    strength: str | None = None
    prompt_id: int = 0
    pair_id: int = 0
    weight: float = 1.0  # how much the row counts in training (annotator weights)


@dataclass(frozen=True)
class Selection:
    """Which comparisons count; the defaults are what a training run uses."""

    up_to: int | None = None  # the watermark: highest comparison id included
    include_simulated: bool = False
    include_excluded: bool = False  # annotators an admin excluded for quality
    include_ties: bool = False  # count tie / both-bad votes in the majority
    since: datetime | None = None
    until: datetime | None = None
    tag: str = ""
    include_imported: bool = False  # rows of imported preference files (their a/b choices)


def excluded_annotators(project: Project) -> list[int]:
    """Annotators an admin excluded from this project's training data."""
    return list(settings_of(project).excluded_annotators)


def majority(choices: list[str]) -> str | None:
    """The most frequent choice, or None when the top is shared (a split vote)."""
    if not choices:
        return None
    ranked = Counter(choices).most_common(2)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def comparison_scope(
    project: Project, sel: Selection, *, keep_votes_of: ColumnElement[bool] | None = None
) -> list[ColumnElement[bool]]:
    """Conditions on Comparison (joined with Prompt) shared by every export and the trainer:
    project, watermark, window, tag, excluded and simulated annotators, ties (tie votes are
    kept where `keep_votes_of` holds: pairs whose final label comes from elsewhere); live
    comparisons only, so a changed label counts once, as its latest judgement."""
    conditions: list[ColumnElement[bool]] = [
        Comparison.project_id == project.id,
        Comparison.live.expression,
    ]
    if sel.up_to is not None:
        conditions.append(Comparison.id <= sel.up_to)
    if sel.since is not None:
        conditions.append(Comparison.created_at >= sel.since)
    if sel.until is not None:
        conditions.append(Comparison.created_at < sel.until)
    if sel.tag.strip():
        conditions.append(prompt_has_tag(sel.tag))
    excluded = excluded_annotators(project)
    if excluded and not sel.include_excluded:
        conditions.append(Comparison.user_id.not_in(excluded))
    if not sel.include_simulated:
        conditions.append(Comparison.user_id.not_in(select(User.id).where(User.simulated)))
    if not sel.include_ties:
        preference = Comparison.choice.in_(PREFERENCE_CHOICES)
        conditions.append(preference if keep_votes_of is None else or_(preference, keep_votes_of))
    return conditions


def training_scope(
    project: Project, sel: Selection, *, keep_votes_of: ColumnElement[bool] | None = None
) -> list[ColumnElement[bool]]:
    """`comparison_scope` plus what never trains: deactivated annotators, held-out prompts."""
    return [
        *comparison_scope(project, sel, keep_votes_of=keep_votes_of),
        Comparison.user_id.not_in(select(User.id).where(User.active.is_(False))),
        Prompt.held_out.is_(False),
    ]


def is_ranking_task() -> ColumnElement[bool]:
    """Pairs that are ranking tasks (their comparisons stand for a whole ranking)."""
    return exists().where(RankingItem.pair_id == Pair.id)


def count_usable(
    db: Session, project: Project, after_id: int = 0, *, include_simulated: bool = False
) -> int:
    """How many comparisons a run would use have an id above `after_id` (the trigger)."""
    sel = Selection(include_simulated=include_simulated)
    stmt = (
        select(func.count(Comparison.id))
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .where(
            *training_scope(project, sel, keep_votes_of=is_ranking_task()),
            Comparison.id > after_id,
        )
    )
    return int(db.scalar(stmt) or 0)


def current_watermark(db: Session, project_id: int) -> int:
    """The project's highest comparison id (what a run started now would train up to)."""
    stmt = select(func.max(Comparison.id)).where(Comparison.project_id == project_id)
    return int(db.scalar(stmt) or 0)


def annotator_weights(db: Session, project: Project, sel: Selection) -> dict[int, float]:
    """Each annotator's weight from their answers on gold pairs (in the selection's scope):
    smoothed gold accuracy mapped so that chance (1/2) counts MIN_WEIGHT and 100 % counts 1."""
    stmt = (
        select(
            Comparison.user_id,
            func.count(),
            func.count().filter(Comparison.choice == Pair.gold_choice),
        )
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .where(*comparison_scope(project, sel), Pair.kind == "gold", Pair.gold_choice.isnot(None))
        .group_by(Comparison.user_id)
    )
    answered = {uid: (int(total), int(right)) for uid, total, right in db.execute(stmt)}
    users = db.scalars(
        select(Comparison.user_id)
        .where(Comparison.project_id == project.id, Comparison.live)
        .distinct()
    )
    return {uid: gold_weight(*answered.get(uid, (0, 0))) for uid in users}


def gold_weight(total: int, correct: int) -> float:
    """The weight of an annotator with `correct` right answers out of `total` gold pairs."""
    accuracy = (correct + PRIOR_ACCURACY * PRIOR_VOTES) / (total + PRIOR_VOTES)
    return max(MIN_WEIGHT, min(1.0, 2 * accuracy - 1))


def preference_rows(
    db: Session,
    project: Project,
    sel: Selection,
    *,
    aggregate: bool = True,
    counts: Counter[str] | None = None,
    weights: dict[int, float] | None = None,
) -> Iterator[PreferenceRow]:
    """The rows the loop learns from, pair by pair, read in batches (flat memory).

    With `aggregate=False` every usable a/b comparison is a row of its own (no majority,
    no gold answer). `counts`, when given, is filled with what was used and dropped.
    `weights` (annotator id → weight, from `annotator_weights`) sets each row's weight.
    """
    counts = Counter() if counts is None else counts
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    # A reviewer's final label (app.pairs.review); its pair's tie votes are read too, so a
    # pair all of whose votes were ties still yields the adjudicated row.
    final = aliased(Adjudication)
    adjudicated = final.choice.isnot(None) if aggregate else None
    stmt = (
        select(
            Pair.id,
            Pair.prompt_id,
            Pair.kind,
            Pair.gold_choice,
            Prompt.text,
            Prompt.messages,
            comp_a.text,
            comp_b.text,
            Comparison.choice,
            Comparison.strength,
            final.choice.label("final"),
            Comparison.user_id,
        )
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .outerjoin(final, and_(final.pair_id == Pair.id, final.status == ReviewStatus.decided))
        .where(*training_scope(project, sel, keep_votes_of=adjudicated), ~is_ranking_task())
        .order_by(Pair.id, Comparison.id)
        .execution_options(yield_per=BATCH)
    )
    for pair_id, group in groupby(db.execute(stmt), key=lambda r: r[0]):
        votes = list(group)
        counts["comparisons"] += len(votes)
        _, prompt_id, kind, gold, text, messages, text_a, text_b, _, _, final_label, _ = votes[0]
        prompt = prompt_value(text, messages)
        if not aggregate:
            for vote in votes:
                if vote.choice in PREFERENCE_CHOICES:
                    row = _row(prompt, prompt_id, pair_id, text_a, text_b, vote.choice, [vote])
                    yield _weighed(row, [vote], weights)
            continue
        if final_label is not None:
            # A reviewer settled it: the adjudicated label, whatever the votes said.
            counts["adjudicated"] += 1
            if final_label in PREFERENCE_CHOICES:
                yield _row(prompt, prompt_id, pair_id, text_a, text_b, final_label, votes)
            else:
                counts["dropped_tie"] += 1
            continue
        # Gold pairs have a known answer; the annotators' votes on them measure the annotators.
        winner = gold if kind == "gold" else majority([v.choice for v in votes])
        if winner is None:
            counts["dropped_split_vote"] += 1
        elif winner not in PREFERENCE_CHOICES:
            counts["dropped_tie"] += 1
        else:
            counts["gold_pairs" if kind == "gold" else "pairs"] += 1
            row = _row(prompt, prompt_id, pair_id, text_a, text_b, winner, votes)
            winners = [v for v in votes if v.choice == winner]
            yield row if kind == "gold" else _weighed(row, winners, weights)
    yield from _ranking_rows(db, project, sel, aggregate=aggregate, counts=counts, weights=weights)
    if sel.include_imported:
        yield from _imported(db, project, sel, counts)


def _weighed(
    row: PreferenceRow, votes: list[Any], weights: dict[int, float] | None
) -> PreferenceRow:
    if weights and votes:
        row.weight = sum(weights.get(v.user_id, 1.0) for v in votes) / len(votes)
    return row


def _imported(
    db: Session, project: Project, sel: Selection, counts: Counter[str]
) -> Iterator[PreferenceRow]:
    """Imported a/b judgements, a row each (ties and both-bad teach no preference)."""
    for pid, text, messages, text_a, text_b, choice, strength in imported_judgements(
        db, project, sel.since, sel.until, sel.tag
    ):
        if choice not in PREFERENCE_CHOICES:
            counts["imported_dropped_tie"] += 1
            continue
        counts["imported"] += 1
        chosen, rejected = (text_a, text_b) if choice == "a" else (text_b, text_a)
        yield PreferenceRow(prompt_value(text, messages), chosen, rejected, strength, pid)


def _ranking_rows(
    db: Session,
    project: Project,
    sel: Selection,
    *,
    aggregate: bool,
    counts: Counter[str],
    weights: dict[int, float] | None = None,
) -> Iterator[PreferenceRow]:
    """The implied preferences of the project's rankings, task by task (with annotator
    weights: a row weighs what the annotators who ranked its winner higher are worth)."""
    final = aliased(Adjudication)
    stmt = (
        select(
            Pair.id,
            Pair.prompt_id,
            Pair.kind,
            Pair.completion_a_id,
            Pair.completion_b_id,
            Prompt.text,
            Prompt.messages,
            Ranking.tiers,
            final.choice.label("final"),
            Comparison.user_id,
        )
        .select_from(Comparison)
        .join(Ranking, Ranking.comparison_id == Comparison.id)
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(Prompt, Prompt.id == Pair.prompt_id)
        .outerjoin(final, and_(final.pair_id == Pair.id, final.status == ReviewStatus.decided))
        # A ranking's stored a-versus-b choice says nothing about its other pairs: keep all.
        .where(*training_scope(project, sel, keep_votes_of=true()))
        .order_by(Pair.id, Comparison.id)
        .execution_options(yield_per=BATCH)
    )
    tasks = ((pid, list(group)) for pid, group in groupby(db.execute(stmt), key=lambda r: r[0]))
    while chunk := list(islice(tasks, RANKING_CHUNK)):
        items = rankings.items_of(db, (pid for pid, _ in chunk))
        for pair_id, votes in chunk:
            counts["comparisons"] += len(votes)
            counts["rankings"] += 1
            first = votes[0]
            prompt = prompt_value(first.text, first.messages)
            task = items[pair_id]
            text_of = {item.completion_id: text for item, text in task}
            order = [item.completion_id for item, _ in task]
            for better, worse in _ranking_winners(
                votes, order, rankings.gold_tiers([i for i, _ in task]), sel, aggregate, counts
            ):
                counts["ranking_pairs"] += 1
                row = PreferenceRow(
                    prompt, text_of[better], text_of[worse], None, first.prompt_id, pair_id
                )
                decided = first.kind == "gold" or (
                    first.final is not None
                    and {better, worse} == {first.completion_a_id, first.completion_b_id}
                )
                if weights and not decided:  # gold and adjudicated rows weigh 1, as pairs do
                    agreeing = [
                        v
                        for v in votes
                        if rankings.vote(rankings.rank_of(v.tiers), better, worse) == "a"
                    ]
                    row = _weighed(row, agreeing, weights)
                yield row


def _ranking_winners(
    votes: list[Any],
    order: list[int],
    gold: dict[int, int] | None,
    sel: Selection,
    aggregate: bool,
    counts: Counter[str],
) -> Iterator[tuple[int, int]]:
    """(better, worse) completion ids decided from one task's rankings."""
    ranked = [rankings.rank_of(v.tiers) for v in votes]
    if not aggregate:
        for ranks in ranked:
            for first, second, choice in rankings.implied_votes(ranks, order):
                if choice in PREFERENCE_CHOICES:
                    yield (first, second) if choice == "a" else (second, first)
        return
    head = votes[0]
    if head.kind == "gold" and gold is not None:
        ranked = [gold]  # the known answer, whatever the annotators said
    for first, second in combinations(order, 2):
        choices = [rankings.vote(ranks, first, second) for ranks in ranked]
        if head.final is not None and (first, second) == (
            head.completion_a_id,
            head.completion_b_id,
        ):
            counts["adjudicated"] += 1
            choices = [head.final]
        elif not sel.include_ties:
            choices = [c for c in choices if c in PREFERENCE_CHOICES]
        winner = majority(choices)
        if not choices or (winner is not None and winner not in PREFERENCE_CHOICES):
            counts["dropped_tie"] += 1
        elif winner is None:
            counts["dropped_split_vote"] += 1
        else:
            yield (first, second) if winner == "a" else (second, first)


def _row(
    prompt: PromptValue,
    prompt_id: int,
    pair_id: int,
    text_a: str,
    text_b: str,
    winner: str,
    votes: list[Any],
) -> PreferenceRow:
    strengths = [v.strength for v in votes if v.choice == winner and v.strength]
    strength = Counter(strengths).most_common(1)[0][0] if strengths else None
    chosen, rejected = (text_a, text_b) if winner == "a" else (text_b, text_a)
    return PreferenceRow(prompt, chosen, rejected, strength, prompt_id, pair_id)


def demonstration_preference_rows(
    db: Session, project: Project, sel: DemonstrationSelection
) -> Iterator[PreferenceRow]:
    """Each demonstration written on a pair, preferred over both of the pair's responses."""
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    stmt = (
        select(
            Demonstration.pair_id,
            Demonstration.prompt_id,
            Demonstration.text,
            Prompt.text,
            Prompt.messages,
            comp_a.text,
            comp_b.text,
        )
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .join(Pair, Pair.id == Demonstration.pair_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .where(*demonstration_scope(project, sel))
        .order_by(Demonstration.id)
        .execution_options(yield_per=BATCH)
    )
    for _pair_id, prompt_id, demo, text, messages, text_a, text_b in db.execute(stmt):
        prompt = prompt_value(text, messages)
        for response in (text_a, text_b):
            if response.strip() != demo.strip():  # an unchanged response teaches nothing
                # pair_id 0: the reward model must not batch these as a ranking's rows
                yield PreferenceRow(prompt, demo, response, None, prompt_id)
