"""A held-out prompt is the evaluation set: never in a live pair, never in any training data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.preferences import Selection, preference_rows
from app.labeling.service import next_pair
from app.models import Pair, Project, User
from app.prompts.service import set_held_out
from app.sampling.service import pick_prompts
from app.settings import Settings
from tests.factories import compare, completion_pair, make_prompt
from tests.factories.training import version_zero
from trainer import data


@pytest.fixture
def v0(db: Session, project: Project, tmp_path: Path, tiny_policy_dir: Path):  # type: ignore[no-untyped-def]
    return version_zero(db, project, tmp_path / "store", tiny_policy_dir)


def test_a_held_out_prompt_never_reaches_a_live_pair_or_a_training_snapshot(
    db: Session, settings: Settings, project: Project, v0, make_user: Callable[..., User]
) -> None:
    judge, admin = make_user("evaluator"), make_user("admin")
    keep = make_prompt(db, project, "Keep me for training")
    measure = make_prompt(db, project, "Measure me only")
    for prompt in (keep, measure):
        # Labelled before the prompt was held out: a live pair and a gold pair ...
        compare(
            db,
            completion_pair(db, project, prompt, v0, f"{prompt.id} good", f"{prompt.id} bad"),
            judge,
            "a",
        )
        gold = completion_pair(
            db,
            project,
            prompt,
            v0,
            f"{prompt.id} g1",
            f"{prompt.id} g2",
            kind="gold",
            gold_choice="a",
        )
        compare(db, gold, judge, "a")
        # ... and open pairs waiting for labels, of both kinds the sampler makes.
        completion_pair(db, project, prompt, v0, f"{prompt.id} open a", f"{prompt.id} open b")
        completion_pair(
            db, project, prompt, v0, f"{prompt.id} h2h a", f"{prompt.id} h2h b", kind="head_to_head"
        )
    db.flush()

    waiting = select(Pair.id).where(
        Pair.prompt_id == measure.id, Pair.status == "open", Pair.kind != "gold"
    )
    expected = len(db.scalars(waiting).all())
    changed, retired = set_held_out(db, project, [measure.id], True, admin.id)
    assert (changed, retired) == (1, expected) and expected >= 2

    # Live pairs: none open for it, none leased to anyone, none sampled for it.
    open_kinds = db.execute(
        select(Pair.prompt_id, Pair.kind).where(Pair.status == "open", Pair.kind != "gold")
    ).all()
    assert {pid for pid, _ in open_kinds} == {keep.id}
    evaluator = make_user("evaluator")
    leased = []
    while (lease := next_pair(db, settings, evaluator, project)) is not None:
        leased.append(lease.pair.prompt_id)
        lease.assignment.status = "submitted"
        db.flush()
    assert leased and measure.id not in leased
    assert {p.id for p in pick_prompts(db, project.id, 10)} == {keep.id}

    # Training: the reward model and DPO read preference rows; RL reads the snapshot's prompts.
    for aggregate in (True, False):
        rows = list(preference_rows(db, project, Selection(), aggregate=aggregate))
        assert rows and {r.prompt_id for r in rows} == {keep.id}
    snap = data.snapshot(db, project.id, data.current_watermark(db, project.id), min_comparisons=1)
    assert {r.prompt_id for r in snap.train + snap.validation} == {keep.id}
    assert "Measure me only" not in snap.rl_prompts
    assert snap.heldout_prompts == ["Measure me only"]  # it is what evaluation reads

    # Returned to labelling, its labels train again (nothing was deleted).
    set_held_out(db, project, [measure.id], False, admin.id)
    rows = list(preference_rows(db, project, Selection()))
    assert {r.prompt_id for r in rows} == {keep.id, measure.id}


def test_every_held_out_prompt_stays_out_of_rl_when_evaluation_reads_a_sample(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    judge = make_user("evaluator")
    train_prompt = make_prompt(db, project, "Train on me")
    compare(db, completion_pair(db, project, train_prompt, v0, "yes", "no"), judge, "a")
    for i in range(6):
        make_prompt(db, project, f"Evaluation prompt {i}", held_out=True)
    snap = data.snapshot(
        db,
        project.id,
        data.current_watermark(db, project.id),
        min_comparisons=1,
        heldout_prompts=2,
    )
    assert len(snap.heldout_prompts) == 2
    assert snap.rl_prompts == ["Train on me"]
