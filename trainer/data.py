"""Comparisons → the snapshot a run trains on.

A run trains on the project's preference rows (app/domain/preferences.py: majority,
gold answers, exclusions, deactivated and simulated annotators, held-out prompts) up to a
watermark: the project's highest comparison id when the run first started, recorded on
the run so a retry sees the same data. The split into train/validation is by prompt with
a fixed seed; the prompts left for RL and for evaluation come from the prompt set.

Demonstrations (app/domain/demonstrations.py) have a watermark of their own, recorded the
same way: the `sft` stage trains on them, and with `demonstrations_preferred` each one
written on a pair adds two preference rows (preferred over both responses).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.demonstrations import (
    DemonstrationRow,
    DemonstrationSelection,
    current_demonstration_watermark,
    demonstration_rows,
)
from app.domain.messages import PromptValue, prompt_value
from app.domain.preferences import (
    PreferenceRow,
    Selection,
    annotator_weights,
    current_watermark,
    demonstration_preference_rows,
    preference_rows,
)
from app.models import Completion, Project, Prompt

__all__ = [
    "NotEnoughData",
    "Snapshot",
    "current_demonstration_watermark",
    "current_watermark",
    "snapshot",
    "snapshot_for_config",
]


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
    demonstrations: list[DemonstrationRow] = field(default_factory=list)
    # (prompt, its stored answers) for RL prompts with any, in rl_prompts order
    pool: list[tuple[PromptValue, list[str]]] = field(default_factory=list)

    @property
    def rows(self) -> list[PreferenceRow]:
        return self.train + self.validation


def snapshot(
    db: Session,
    project_id: int,
    watermark: int,
    *,
    min_comparisons: int,
    include_ties: bool = False,
    include_simulated: bool = False,
    include_imported: bool = False,
    validation_share: float = 0.2,
    split_seed: int = 0,
    heldout_prompts: int = 16,
    rl_prompts: int | None = None,
    demonstrations: DemonstrationSelection | None = None,
    demonstrations_preferred: bool = False,
    min_demonstrations: int = 0,
    weigh_annotators: bool = False,
    pool_per_prompt: int = 0,
) -> Snapshot:
    """Build the run's data; raises NotEnoughData when fewer than `min_comparisons` are usable.

    `weigh_annotators`: rows weighted by their annotators' gold accuracy; `pool_per_prompt`:
    how many stored answers per RL prompt to read into the pool (0: none).
    """
    project = db.get(Project, project_id)
    if project is None:
        raise NotEnoughData(f"Project {project_id} does not exist.")
    counts: Counter[str] = Counter()
    selection = Selection(
        up_to=watermark,
        include_simulated=include_simulated,
        include_ties=include_ties,
        include_imported=include_imported,
    )
    weights = annotator_weights(db, project, selection) if weigh_annotators else None
    decided = list(preference_rows(db, project, selection, counts=counts, weights=weights))
    demos: list[DemonstrationRow] = []
    if demonstrations is not None:
        demos = list(demonstration_rows(db, project, demonstrations))
        if len(demos) < min_demonstrations:
            raise NotEnoughData(
                f"Not enough demonstrations: the sft stage needs at least {min_demonstrations} "
                f"and {len(demos)} exist (rejected ones and held-out prompts left out). "
                "Collect more or lower sft.min_demonstrations."
            )
        counts["demonstrations"] = len(demos)
        if demonstrations_preferred:
            preferred = list(demonstration_preference_rows(db, project, demonstrations))
            counts["demonstration_pairs"] = len(preferred)
            decided += preferred

    usable = len(decided)
    if usable < min_comparisons:
        raise NotEnoughData(
            f"Not enough data: this run needs at least {min_comparisons} usable comparisons "
            f"(after majority vote; ties, both-bad and excluded annotators left out) and "
            f"{usable} exist. Collect more labels or lower min_comparisons."
        )

    prompts = list(db.scalars(select(Prompt).where(Prompt.project_id == project_id)))
    labelled_ids = sorted({row.prompt_id for row in decided})
    rng = random.Random(split_seed)
    shuffled = labelled_ids[:]
    rng.shuffle(shuffled)
    n_val = round(len(shuffled) * validation_share) if len(shuffled) > 1 else 0
    if validation_share > 0 and len(shuffled) > 1:
        n_val = max(1, min(n_val, len(shuffled) - 1))  # both sides non-empty
    val_ids = set(shuffled[:n_val])

    train = [row for row in decided if row.prompt_id not in val_ids]
    validation = [row for row in decided if row.prompt_id in val_ids]

    active = sorted((p for p in prompts if p.active), key=lambda p: p.id)
    flagged = [p for p in active if p.held_out]
    if flagged:
        # Every held-out prompt stays out of training; evaluation reads at most
        # `heldout_prompts` of them (a seeded sample), so its cost stays bounded.
        heldout = flagged
        if 0 < heldout_prompts < len(flagged):
            picked = random.Random(split_seed + 1).sample(flagged, heldout_prompts)
            heldout = sorted(picked, key=lambda p: p.id)
    else:  # no prompt flagged held-out: keep a seeded sample of the active ones for evaluation
        sample = active[:]
        random.Random(split_seed + 1).shuffle(sample)
        heldout = sample[: min(heldout_prompts, max(len(active) - 1, 0))]
    heldout_ids = {p.id for p in heldout}
    rl = [p for p in active if p.id not in heldout_ids and not p.held_out]
    if rl_prompts is not None:
        rl = rl[:rl_prompts]

    pool = _pool(db, rl, pool_per_prompt) if pool_per_prompt > 0 else []
    counts.update(
        usable=usable,
        pool_prompts=len(pool),
        pool_answers=sum(len(answers) for _, answers in pool),
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
        rl_prompts=[prompt_value(p.text, p.messages) for p in rl],
        heldout_prompts=[prompt_value(p.text, p.messages) for p in heldout],
        counts=dict(counts),
        demonstrations=demos,
        pool=pool,
    )


def _pool(
    db: Session, prompts: list[Prompt], per_prompt: int
) -> list[tuple[PromptValue, list[str]]]:
    """Up to `per_prompt` newest model-written answers of each prompt, distinct texts."""
    by_id = {p.id: p for p in prompts}
    answers: dict[int, list[str]] = {}
    stmt = (
        select(Completion.prompt_id, Completion.text)
        .where(Completion.prompt_id.in_(list(by_id)), Completion.finish_reason.isnot(None))
        .order_by(Completion.id.desc())
        .execution_options(yield_per=1000)
    )
    for prompt_id, text in db.execute(stmt):
        kept = answers.setdefault(prompt_id, [])
        if len(kept) < per_prompt and text.strip() and text not in kept:
            kept.append(text)
    return [(prompt_value(p.text, p.messages), answers[p.id]) for p in prompts if answers.get(p.id)]


def snapshot_for_config(
    db: Session,
    project_id: int,
    watermark: int,
    cfg: Any,
    *,
    include_simulated: bool,
    demonstration_watermark: int | None = None,
    runs_sft: bool | None = None,
) -> Snapshot:
    """`snapshot` with the data fields of a TrainingConfig (demonstrations are read when a
    `demonstration_watermark` is given and the sft stage or `demonstrations_preferred` is on).
    `runs_sft`: whether this run has the sft stage (default: the recipe's `sft.enabled`); only
    then does too few demonstrations fail it."""
    runs_sft = cfg.sft.enabled if runs_sft is None else runs_sft
    wants_demos = cfg.sft.enabled or cfg.demonstrations_preferred
    demos = None
    if demonstration_watermark is not None and wants_demos:
        demos = DemonstrationSelection(
            up_to=demonstration_watermark,
            accepted_only=cfg.sft.accepted_only,
            include_simulated=include_simulated,
        )
    return snapshot(
        db,
        project_id,
        watermark,
        min_comparisons=cfg.min_comparisons,
        include_ties=cfg.include_ties,
        include_simulated=include_simulated,
        include_imported=getattr(cfg, "include_imported", False),
        validation_share=cfg.validation_share,
        split_seed=cfg.split_seed,
        heldout_prompts=cfg.heldout_prompts,
        rl_prompts=getattr(cfg, "rl_prompts", None),
        demonstrations=demos,
        demonstrations_preferred=cfg.demonstrations_preferred,
        min_demonstrations=cfg.sft.min_demonstrations if runs_sft else 0,
        weigh_annotators=cfg.reward.annotator_weights,
        pool_per_prompt=(
            cfg.policy.pool_per_prompt if cfg.policy.method in ("best_of_n", "rm_dpo") else 0
        ),
    )
