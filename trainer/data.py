"""Comparisons → the snapshot a run trains on.

A run trains on every usable comparison up to a watermark (the project's highest comparison
id when the run first started, recorded on the run so a retry sees the same data).
Overlapped pairs are aggregated by majority; a split vote is dropped. Ties and both-bad
judgements are left out unless the config keeps them (then they count as votes, so a pair
whose plurality is "tie" is dropped too). Labels of deactivated annotators are always left
out, those of simulated annotators unless the run's config includes them. Gold pairs use
their gold answer. The split into train/validation is by prompt with a fixed seed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from app.export.service import excluded_annotators
from app.models import Comparison, Completion, Pair, Project, Prompt, User
from trainer.types import PreferenceRow
from trainer.types import Prompt as PromptValue

PREFERENCE_CHOICES = ("a", "b")


class NotEnoughData(ValueError):
    """Too few usable comparisons; the message says how many are needed and how many exist."""


@dataclass
class Snapshot:
    watermark: int
    train: list[PreferenceRow]
    validation: list[PreferenceRow]
    rl_prompts: list[PromptValue]
    heldout_prompts: list[PromptValue]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> list[PreferenceRow]:
        return self.train + self.validation


def usable_filter(
    project_id: int,
    *,
    include_simulated: bool = False,
    include_ties: bool = False,
    excluded_users: list[int] | None = None,
) -> ColumnElement[bool]:
    """Comparisons of the project that count as training data (joined with User)."""
    conditions = [Comparison.project_id == project_id, User.active.is_(True)]
    if excluded_users:  # annotators an admin excluded for quality (app.quality)
        conditions.append(Comparison.user_id.not_in(excluded_users))
    if not include_simulated:
        conditions.append(User.simulated.is_(False))
    if not include_ties:
        conditions.append(Comparison.choice.in_(PREFERENCE_CHOICES))
    return and_(*conditions)


def count_usable(
    db: Session, project_id: int, after_id: int = 0, *, include_simulated: bool = False
) -> int:
    """How many usable comparisons have an id above `after_id` (the periodic trigger)."""
    return int(
        db.scalar(
            select(func.count(Comparison.id))
            .join(User, User.id == Comparison.user_id)
            .where(
                usable_filter(
                    project_id,
                    include_simulated=include_simulated,
                    excluded_users=_excluded(db, project_id),
                ),
                Comparison.id > after_id,
            )
        )
        or 0
    )


def _excluded(db: Session, project_id: int) -> list[int]:
    project = db.get(Project, project_id)
    return excluded_annotators(project) if project is not None else []


def current_watermark(db: Session, project_id: int) -> int:
    return int(
        db.scalar(select(func.max(Comparison.id)).where(Comparison.project_id == project_id)) or 0
    )


def prompt_value(prompt: Prompt) -> PromptValue:
    return prompt.messages if prompt.messages else prompt.text


def _vote(choices: list[str]) -> str | None:
    """The majority choice, or None for a split vote."""
    ranked = Counter(choices).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def snapshot(
    db: Session,
    project_id: int,
    watermark: int,
    *,
    min_comparisons: int,
    include_ties: bool = False,
    include_simulated: bool = False,
    validation_share: float = 0.2,
    split_seed: int = 0,
    heldout_prompts: int = 16,
    rl_prompts: int | None = None,
) -> Snapshot:
    """Build the run's data; raises NotEnoughData when fewer than `min_comparisons` are usable."""
    comp_a, comp_b = aliased(Completion), aliased(Completion)
    rows = db.execute(
        select(
            Pair.id,
            Pair.prompt_id,
            Pair.kind,
            Pair.gold_choice,
            comp_a.text,
            comp_b.text,
            Comparison.choice,
            Comparison.strength,
        )
        .join(Pair, Pair.id == Comparison.pair_id)
        .join(User, User.id == Comparison.user_id)
        .join(comp_a, comp_a.id == Pair.completion_a_id)
        .join(comp_b, comp_b.id == Pair.completion_b_id)
        .where(
            usable_filter(
                project_id,
                include_simulated=include_simulated,
                include_ties=include_ties,
                excluded_users=_excluded(db, project_id),
            ),
            Comparison.id <= watermark,
        )
        .order_by(Pair.id, Comparison.id)
    ).all()

    votes: dict[int, list[tuple[str, str | None]]] = defaultdict(list)
    info: dict[int, tuple[int, str, str | None, str, str]] = {}
    for pair_id, prompt_id, kind, gold, text_a, text_b, choice, strength in rows:
        votes[pair_id].append((choice, strength))
        info[pair_id] = (prompt_id, kind, gold, text_a, text_b)

    counts: dict[str, int] = Counter()
    counts["comparisons"] = len(rows)
    decided: list[tuple[int, str, str, str | None]] = []  # prompt_id, chosen, rejected, strength
    for pair_id, pair_votes in votes.items():
        prompt_id, kind, gold, text_a, text_b = info[pair_id]
        # Gold pairs have a known answer; the annotators' votes on them measure the annotators.
        winner = gold if kind == "gold" else _vote([c for c, _ in pair_votes])
        if winner is None:
            counts["dropped_split_vote"] += 1
            continue
        if winner not in PREFERENCE_CHOICES:
            counts["dropped_tie"] += 1
            continue
        strengths = [s for c, s in pair_votes if c == winner and s]
        strength = Counter(strengths).most_common(1)[0][0] if strengths else None
        chosen, rejected = (text_a, text_b) if winner == "a" else (text_b, text_a)
        decided.append((prompt_id, chosen, rejected, strength))
        counts["gold_pairs" if kind == "gold" else "pairs"] += 1

    usable = len(decided)
    if usable < min_comparisons:
        raise NotEnoughData(
            f"Not enough data: this run needs at least {min_comparisons} usable comparisons "
            f"(after majority vote; ties, both-bad and excluded annotators left out) and "
            f"{usable} exist. Collect more labels or lower min_comparisons."
        )

    prompts = {p.id: p for p in db.scalars(select(Prompt).where(Prompt.project_id == project_id))}
    labelled_ids = sorted({pid for pid, *_ in decided})
    rng = random.Random(split_seed)
    shuffled = labelled_ids[:]
    rng.shuffle(shuffled)
    n_val = round(len(shuffled) * validation_share) if len(shuffled) > 1 else 0
    if validation_share > 0 and len(shuffled) > 1:
        n_val = max(1, min(n_val, len(shuffled) - 1))  # both sides non-empty
    val_ids = set(shuffled[:n_val])

    def row(pid: int, chosen: str, rejected: str, strength: str | None) -> PreferenceRow:
        return PreferenceRow(prompt_value(prompts[pid]), chosen, rejected, strength, pid)

    train = [row(*d) for d in decided if d[0] not in val_ids]
    validation = [row(*d) for d in decided if d[0] in val_ids]

    active = sorted((p for p in prompts.values() if p.active), key=lambda p: p.id)
    flagged = [p for p in active if p.held_out]
    if flagged:
        heldout = flagged
    else:  # no prompt flagged held-out: keep a seeded sample of the active ones for evaluation
        sample = active[:]
        random.Random(split_seed + 1).shuffle(sample)
        heldout = sample[: min(heldout_prompts, max(len(active) - 1, 0))]
    heldout_ids = {p.id for p in heldout}
    rl = [p for p in active if p.id not in heldout_ids]
    if rl_prompts is not None:
        rl = rl[:rl_prompts]

    counts.update(
        usable=usable,
        train=len(train),
        validation=len(validation),
        train_prompts=len({r.prompt_id for r in train}),
        validation_prompts=len({r.prompt_id for r in validation}),
        rl_prompts=len(rl),
        heldout_prompts=len(heldout),
    )
    return Snapshot(
        watermark=watermark,
        train=train,
        validation=validation,
        rl_prompts=[prompt_value(p) for p in rl],
        heldout_prompts=[prompt_value(p) for p in heldout],
        counts=dict(counts),
    )


def snapshot_for_config(
    db: Session, project_id: int, watermark: int, cfg: Any, *, include_simulated: bool
) -> Snapshot:
    """`snapshot` with the data fields of a TrainingConfig."""
    return snapshot(
        db,
        project_id,
        watermark,
        min_comparisons=cfg.min_comparisons,
        include_ties=cfg.include_ties,
        include_simulated=include_simulated,
        validation_share=cfg.validation_share,
        split_seed=cfg.split_seed,
        heldout_prompts=cfg.heldout_prompts,
        rl_prompts=getattr(cfg, "rl_prompts", None),
    )
