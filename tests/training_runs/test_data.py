"""The run's snapshot: majority vote, exclusions, split by prompt, watermark, too few labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.domain.preferences import count_usable
from app.models import Project, User
from tests.factories import compare, completion_pair, make_prompt
from tests.factories.training import labelled_pairs, version_zero
from trainer import data


@pytest.fixture
def v0(db: Session, project: Project, tmp_path: Path, tiny_policy_dir: Path):  # type: ignore[no-untyped-def]
    return version_zero(db, project, tmp_path / "store", tiny_policy_dir)


def snap(db: Session, project: Project, **kw: object) -> data.Snapshot:
    kw.setdefault("min_comparisons", 1)
    return data.snapshot(db, project.id, data.current_watermark(db, project.id), **kw)  # type: ignore[arg-type]


def test_majority_vote_and_exclusions(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    u1, u2, u3 = (make_user("evaluator") for _ in range(3))
    gone = make_user("evaluator")
    bot = make_user("evaluator")
    bot.simulated = True
    prompt = make_prompt(db, project, "Say hi")
    majority = completion_pair(db, project, prompt, v0, "hello", "go away")
    for user, choice in ((u1, "a"), (u2, "a"), (u3, "b")):
        compare(db, majority, user, choice)
    split = completion_pair(db, project, prompt, v0, "x", "y")
    compare(db, split, u1, "a")
    compare(db, split, u2, "b")
    tie = completion_pair(db, project, prompt, v0, "same", "same!")
    compare(db, tie, u1, "tie")
    inactive = completion_pair(db, project, prompt, v0, "p", "q")
    compare(db, inactive, gone, "a")
    gone.active = False
    simulated = completion_pair(db, project, prompt, v0, "s1", "s2")
    compare(db, simulated, bot, "b")
    gold = completion_pair(db, project, prompt, v0, "wrong", "right", kind="gold", gold_choice="b")
    compare(db, gold, u1, "a")  # the annotator missed the gold answer; the gold answer counts
    db.flush()

    result = snap(db, project, validation_share=0)
    pairs = {(r.chosen, r.rejected) for r in result.rows}
    assert pairs == {("hello", "go away"), ("right", "wrong")}
    assert result.counts["dropped_split_vote"] == 1
    assert result.counts["gold_pairs"] == 1 and result.counts["pairs"] == 1

    with_bots = snap(db, project, validation_share=0, include_simulated=True)
    assert ("s2", "s1") in {(r.chosen, r.rejected) for r in with_bots.rows}
    with_ties = snap(db, project, validation_share=0, include_ties=True)
    assert with_ties.counts["dropped_tie"] == 1


def test_split_is_by_prompt_and_fixed_by_seed(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    labelled_pairs(db, project, v0, make_user("evaluator"), 40, prompts=10)
    first = snap(db, project, validation_share=0.3, split_seed=7, heldout_prompts=2)
    again = snap(db, project, validation_share=0.3, split_seed=7, heldout_prompts=2)
    train_prompts = {r.prompt_id for r in first.train}
    val_prompts = {r.prompt_id for r in first.validation}
    assert train_prompts and val_prompts and not train_prompts & val_prompts
    assert len(val_prompts) == 3
    assert val_prompts == {r.prompt_id for r in again.validation}
    assert first.counts["train"] + first.counts["validation"] == 40
    assert len(first.heldout_prompts) == 2 and len(first.rl_prompts) == 8
    assert not set(map(str, first.heldout_prompts)) & set(map(str, first.rl_prompts))


def test_flagged_held_out_prompts_are_kept_for_evaluation(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    labelled_pairs(db, project, v0, make_user("evaluator"), 8, prompts=4)
    make_prompt(db, project, "Evaluation only", held_out=True)
    result = snap(db, project)
    assert result.heldout_prompts == ["Evaluation only"]
    assert "Evaluation only" not in result.rl_prompts


def test_watermark_excludes_later_labels(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    user = make_user("evaluator")
    labelled_pairs(db, project, v0, user, 6, prompts=3)
    mark = data.current_watermark(db, project.id)
    labelled_pairs(db, project, v0, user, 4, prompts=2)
    assert len(data.snapshot(db, project.id, mark, min_comparisons=1).rows) == 6
    assert count_usable(db, project, mark) == 4


def test_too_few_comparisons_says_how_many_are_needed(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    labelled_pairs(db, project, v0, make_user("evaluator"), 3, prompts=2)
    with pytest.raises(data.NotEnoughData, match="needs at least 50 usable comparisons .* 3 exist"):
        snap(db, project, min_comparisons=50)


def test_annotators_excluded_by_an_admin_are_left_out(
    db: Session, project: Project, v0, make_user: Callable[..., User]
) -> None:
    good, sloppy = make_user("evaluator"), make_user("evaluator")
    prompt = make_prompt(db, project, "Pick one")
    kept = completion_pair(db, project, prompt, v0, "good", "bad")
    compare(db, kept, good, "a")
    dropped = completion_pair(db, project, prompt, v0, "p", "q")
    compare(db, dropped, sloppy, "a")
    project.settings = {**project.settings, "excluded_annotators": [sloppy.id]}
    db.flush()
    result = snap(db, project, validation_share=0)
    assert {(r.chosen, r.rejected) for r in result.rows} == {("good", "bad")}
    assert count_usable(db, project) == 1
