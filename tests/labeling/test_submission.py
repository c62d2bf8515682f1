"""Submission service: choice mapping, counts, idempotency, expiry, project-level checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.labeling import service
from app.labeling.schemas import SubmitIn
from app.labeling.submission import InvalidSubmission, KeyConflict, submit
from app.models import Assignment, Comparison, Pair, utcnow
from tests.factories import make_evaluator, make_pair, make_pairs


def _lease(db, settings, project, user=None):
    user = user or make_evaluator(db, project)
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None
    return user, lease


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Comparison))


@pytest.mark.parametrize("left_side", ["a", "b"])
def test_screen_choice_maps_to_the_completion_shown(db, settings, project, left_side) -> None:
    make_pair(db, project)
    user, lease = _lease(db, settings, project)
    lease.assignment.left_side = left_side
    db.flush()
    done = submit(
        db, user, SubmitIn(assignment_id=lease.assignment.id, choice="right", strength="much")
    )
    # "right" is whatever completion was not on the left.
    assert done.comparison.choice == ("b" if left_side == "a" else "a")
    assert done.comparison.strength == "much"


def test_submission_updates_lease_and_pair_together(db, settings, project) -> None:
    pair = make_pair(db, project, labels_required=2)
    project.guidelines_version = 4
    db.flush()
    user1, lease1 = _lease(db, settings, project)
    user2, lease2 = _lease(db, settings, project)
    submit(db, user1, SubmitIn(assignment_id=lease1.assignment.id, choice="tie", decision_ms=1234))
    db.refresh(pair)
    assert (pair.labels_received, pair.status) == (1, "open")
    submit(db, user2, SubmitIn(assignment_id=lease2.assignment.id, choice="both_bad"))
    db.refresh(pair)
    assert (pair.labels_received, pair.status) == (2, "complete")
    rows = db.scalars(select(Comparison).order_by(Comparison.id)).all()
    assert [r.guidelines_version for r in rows] == [4, 4]
    assert rows[0].client_decision_ms == 1234  # kept beside the server's own time
    assert rows[1].decision_ms is not None and rows[1].decision_ms >= 0  # from shown_at
    assert db.get(Assignment, lease1.assignment.id).status == "submitted"


def test_retries_return_the_stored_comparison(db, settings, project) -> None:
    make_pairs(db, project, 2)
    user, lease = _lease(db, settings, project)
    data = SubmitIn(assignment_id=lease.assignment.id, choice="left", idempotency_key="k-1")
    first = submit(db, user, data)
    again = submit(db, user, data)
    other_key = submit(db, user, data.model_copy(update={"idempotency_key": "k-2"}))
    assert not first.replayed and again.replayed and other_key.replayed
    assert again.comparison.id == first.comparison.id == other_key.comparison.id
    assert _count(db) == 1
    # The same key on a different assignment is a conflict, not a silent replay.
    _, lease2 = _lease(db, settings, project, user)
    with pytest.raises(KeyConflict):
        submit(
            db,
            user,
            SubmitIn(assignment_id=lease2.assignment.id, choice="left", idempotency_key="k-1"),
        )


def test_keys_are_per_user(db, settings, project) -> None:
    make_pairs(db, project, 2)
    alice, lease_a = _lease(db, settings, project)
    bob, lease_b = _lease(db, settings, project)
    submit(
        db,
        alice,
        SubmitIn(assignment_id=lease_a.assignment.id, choice="tie", idempotency_key="same"),
    )
    submit(
        db, bob, SubmitIn(assignment_id=lease_b.assignment.id, choice="tie", idempotency_key="same")
    )
    assert _count(db) == 2


def test_expired_lease_stores_nothing(db, settings, project) -> None:
    pair = make_pair(db, project)
    user, lease = _lease(db, settings, project)
    lease.assignment.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    with pytest.raises(service.LeaseExpired, match="not saved"):
        submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice="left"))
    assert _count(db) == 0
    assert db.get(Pair, pair.id).labels_received == 0
    assert db.get(Assignment, lease.assignment.id).status == "expired"


def test_someone_elses_assignment_is_not_found(db, settings, project) -> None:
    make_pair(db, project)
    _, lease = _lease(db, settings, project)
    mallory = make_evaluator(db, project)
    with pytest.raises(service.NotFound):
        submit(db, mallory, SubmitIn(assignment_id=lease.assignment.id, choice="left"))
    assert _count(db) == 0


def test_flags_must_be_offered_by_the_project(db, settings, project) -> None:
    make_pair(db, project)
    project.flags = ["unsafe", "off-topic"]
    db.flush()
    user, lease = _lease(db, settings, project)
    with pytest.raises(InvalidSubmission) as err:
        submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice="left", flags=["rude"]))
    assert err.value.field == "flags" and "rude" in err.value.message
    done = submit(
        db,
        user,
        SubmitIn(assignment_id=lease.assignment.id, choice="left", flags=["unsafe", "unsafe"]),
    )
    assert done.comparison.flags == ["unsafe"]


def test_gold_pairs_are_marked_and_stay_open(db, settings, project) -> None:
    gold = make_pair(db, project, kind="gold", gold_choice="a")
    project.gold_rate = 1.0
    db.flush()
    user, lease = _lease(db, settings, project)
    done = submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice="left"))
    assert done.comparison.is_gold
    db.refresh(gold)
    assert gold.status == "open" and gold.labels_received == 1


def test_labels_submitted_metric_counts_new_comparisons_only(db, settings, project) -> None:
    from app.observability.metrics import LABELS_SUBMITTED

    make_pair(db, project)
    user, lease = _lease(db, settings, project)
    before = LABELS_SUBMITTED._value.get()
    data = SubmitIn(assignment_id=lease.assignment.id, choice="left", idempotency_key="m-1")
    submit(db, user, data)
    assert LABELS_SUBMITTED._value.get() == before  # counted once stored, not before
    db.commit()
    assert LABELS_SUBMITTED._value.get() == before + 1
    submit(db, user, data)  # a retry stores nothing and counts nothing
    db.commit()
    assert LABELS_SUBMITTED._value.get() == before + 1
