"""The one preference builder: the TRL export holds exactly the rows a run trains on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.domain.messages import as_messages
from app.domain.preferences import (
    PreferenceRow,
    Selection,
    annotator_weights,
    current_watermark,
)
from app.export.service import ExportOptions, iter_lines
from app.models import Project, User
from tests.factories import compare, completion_pair, make_prompt
from tests.factories.training import version_zero
from trainer.data import snapshot

CHAT = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi?"}]


def exported(db: Session, project: Project, **kw: object) -> list[dict]:
    text = "".join(iter_lines(db, project, ExportOptions(kind="trl", **kw), "s" * 40))  # type: ignore[arg-type]
    return [json.loads(line) for line in text.splitlines()]


def as_export(row: PreferenceRow) -> dict:
    """A snapshot row in the export's conversational shape."""
    return {
        "prompt": as_messages(row.prompt),
        "chosen": [{"role": "assistant", "content": row.chosen}],
        "rejected": [{"role": "assistant", "content": row.rejected}],
    }


def test_export_equals_the_training_snapshot_at_the_same_watermark(
    db: Session,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    v0 = version_zero(db, project, tmp_path / "store", tiny_policy_dir)
    u1, u2, u3 = (make_user("evaluator") for _ in range(3))
    sloppy, gone = make_user("evaluator"), make_user("evaluator")
    plain = make_prompt(db, project, "Name a colour.")
    chat = make_prompt(db, project, "chat")
    chat.messages = CHAT
    held = make_prompt(db, project, "Kept for measurement.", held_out=True)

    majority = completion_pair(db, project, plain, v0, "blue", "seven")
    for user, choice in ((u1, "a"), (u2, "a"), (u3, "b")):
        compare(db, majority, user, choice)
    # Two tie votes and one for b: ties teach no preference, so b decides for both.
    tied = completion_pair(db, project, chat, v0, "rude", "hello!")
    for user, choice in ((u1, "tie"), (u2, "tie"), (u3, "b")):
        compare(db, tied, user, choice)
    gold = completion_pair(db, project, plain, v0, "wrong", "right", kind="gold", gold_choice="b")
    compare(db, gold, u1, "a")  # the gold answer decides, not the annotator
    split = completion_pair(db, project, plain, v0, "x", "y")
    compare(db, split, u1, "a")
    compare(db, split, u2, "b")
    excluded = completion_pair(db, project, plain, v0, "excluded says", "n")
    compare(db, excluded, sloppy, "a")
    project.settings = {**project.settings, "excluded_annotators": [sloppy.id]}
    deactivated = completion_pair(db, project, plain, v0, "deactivated says", "m")
    compare(db, deactivated, gone, "a")
    gone.active = False
    measured = completion_pair(db, project, held, v0, "held-out answer", "other")
    compare(db, measured, u1, "a")
    db.flush()
    watermark = current_watermark(db, project.id)
    late = completion_pair(db, project, plain, v0, "after the watermark", "z")
    compare(db, late, u2, "a")
    db.flush()

    snap = snapshot(db, project.id, watermark, min_comparisons=1, validation_share=0)
    trained = [as_export(r) for r in sorted(snap.rows, key=lambda r: r.pair_id)]
    # The export has no watermark option: compare what it wrote before the late label.
    rows = exported(db, project)
    late_row = as_export(PreferenceRow("Name a colour.", "after the watermark", "z"))
    assert late_row in rows
    rows.remove(late_row)

    assert rows == trained
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows] == [
        ("blue", "seven"),
        ("hello!", "rude"),
        ("right", "wrong"),
    ]
    assert snap.counts["gold_pairs"] == 1 and snap.counts["dropped_split_vote"] == 1


def test_excluded_annotators_come_back_only_when_asked(
    db: Session,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    v0 = version_zero(db, project, tmp_path / "store", tiny_policy_dir)
    sloppy = make_user("evaluator")
    pair = completion_pair(db, project, make_prompt(db, project, "Say hi"), v0, "hi", "go")
    compare(db, pair, sloppy, "a")
    project.settings = {**project.settings, "excluded_annotators": [sloppy.id]}
    db.flush()
    assert exported(db, project) == []
    assert exported(db, project, exclude_excluded=False) == [
        {"prompt": "Say hi", "chosen": "hi", "rejected": "go"}
    ]


def test_annotator_weights_follow_gold_accuracy_in_the_runs_scope(
    db: Session,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    """The weights a run trains with, read from the database (SQLite and Postgres)."""
    v0 = version_zero(db, project, tmp_path / "store", tiny_policy_dir)
    expert, coin, contrarian, newcomer, dropped = (make_user("evaluator") for _ in range(5))
    prompt = make_prompt(db, project, "Pick the true one.")
    golds = [
        completion_pair(
            db, project, prompt, v0, f"true {i}", f"false {i}", kind="gold", gold_choice="a"
        )
        for i in range(4)
    ]
    for i, pair in enumerate(golds):
        compare(db, pair, expert, "a")
        compare(db, pair, coin, "a" if i % 2 else "b")
        compare(db, pair, contrarian, "b")
        compare(db, pair, dropped, "b")
    compare(db, golds[0], newcomer, "tie")  # a tie is no answer to a gold pair
    live = completion_pair(db, project, prompt, v0, "one", "two")
    compare(db, live, newcomer, "a")  # no gold answer at all: the prior's middling weight
    project.settings = {**project.settings, "excluded_annotators": [dropped.id]}
    db.flush()
    watermark = current_watermark(db, project.id)
    late = completion_pair(
        db, project, prompt, v0, "true 5", "false 5", kind="gold", gold_choice="a"
    )
    compare(db, late, contrarian, "a")  # after the watermark: not counted
    db.flush()

    weights = annotator_weights(db, project, Selection(up_to=watermark))

    # Accuracy smoothed with 4 answers at 75 %, then 2 x accuracy - 1 (at least 0.05).
    assert weights[expert.id] == pytest.approx(0.75)  # 4/4 -> 7/8
    assert weights[coin.id] == pytest.approx(0.25)  # 2/4 -> 5/8
    assert weights[contrarian.id] == pytest.approx(0.05)  # 0/4 -> 3/8, floored
    assert weights[newcomer.id] == pytest.approx(0.5)  # 0/0 -> 3/4
    # An excluded annotator's gold answers are out of scope: the prior alone.
    assert weights[dropped.id] == pytest.approx(0.5)
    assert set(weights) == {u.id for u in (expert, coin, contrarian, newcomer, dropped)}
