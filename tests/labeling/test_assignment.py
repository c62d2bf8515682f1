"""Assignment service: leases, overlap, expiry, gold mixing, active selection, skip, heartbeat."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.labeling import service
from app.labeling.schemas import SubmitIn
from app.labeling.submission import submit
from app.models import Assignment, Comparison, Project, utcnow
from app.settings import Settings
from tests.factories import make_evaluator, make_pair, make_pairs


def test_reload_returns_the_same_lease(db, settings: Settings, project: Project) -> None:
    make_pairs(db, project, 3)
    user = make_evaluator(db, project)
    first = service.next_pair(db, settings, user, project)
    again = service.next_pair(db, settings, user, project)
    assert first is not None and again is not None
    assert again.assignment.id == first.assignment.id
    assert first.assignment.expires_at > utcnow() + timedelta(minutes=settings.lease_minutes - 1)


def test_overlap_one_gives_each_pair_to_one_evaluator(db, settings, project) -> None:
    pairs = make_pairs(db, project, 2)
    users = [make_evaluator(db, project) for _ in range(3)]
    leases = [service.next_pair(db, settings, u, project) for u in users]
    got = [lease.pair.id for lease in leases if lease is not None]
    assert sorted(got) == sorted(p.id for p in pairs)
    assert leases[2] is None  # both pairs are leased: the third evaluator waits


def test_overlap_two_gives_each_pair_to_two_evaluators(db, settings, project) -> None:
    pair = make_pair(db, project, labels_required=2)
    users = [make_evaluator(db, project) for _ in range(3)]
    leases = [service.next_pair(db, settings, u, project) for u in users]
    assert [lease.pair.id if lease else None for lease in leases] == [pair.id, pair.id, None]


def test_labelled_or_skipped_pairs_never_come_back(db, settings, project) -> None:
    make_pairs(db, project, 2, labels_required=3)
    user = make_evaluator(db, project)
    first = service.next_pair(db, settings, user, project)
    assert first is not None
    submit(db, user, SubmitIn(assignment_id=first.assignment.id, choice="tie"))
    second = service.next_pair(db, settings, user, project)
    assert second is not None and second.pair.id != first.pair.id
    service.skip(db, user, second.assignment.id, "cannot judge")
    assert service.next_pair(db, settings, user, project) is None
    other = make_evaluator(db, project)
    assert service.next_pair(db, settings, other, project) is not None


def test_skipped_pair_returns_to_the_pool(db, settings, project) -> None:
    pair = make_pair(db, project)
    alice, bob = make_evaluator(db, project), make_evaluator(db, project)
    lease = service.next_pair(db, settings, alice, project)
    assert lease is not None
    assert service.next_pair(db, settings, bob, project) is None
    service.skip(db, alice, lease.assignment.id, "unclear prompt")
    got = service.next_pair(db, settings, bob, project)
    assert got is not None and got.pair.id == pair.id
    assert db.get(Assignment, lease.assignment.id).skip_reason == "unclear prompt"


def test_expired_lease_goes_back_to_the_pool(db, settings, project) -> None:
    pair = make_pair(db, project)
    alice, bob = make_evaluator(db, project), make_evaluator(db, project)
    lease = service.next_pair(db, settings, alice, project)
    assert lease is not None
    lease.assignment.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    got = service.next_pair(db, settings, bob, project)
    assert got is not None and got.pair.id == pair.id
    # Alice's old lease is marked expired when she asks again, and she gets nothing new.
    assert service.next_pair(db, settings, alice, project) is None
    db.refresh(lease.assignment)
    assert lease.assignment.status == "expired"


def test_sides_are_randomised_and_recorded(db, settings, project) -> None:
    make_pairs(db, project, 30)
    sides = []
    for _ in range(30):
        user = make_evaluator(db, project)
        lease = service.next_pair(db, settings, user, project)
        assert lease is not None
        a_id = lease.pair.completion_a_id
        assert (lease.left.id == a_id) == (lease.assignment.left_side == "a")
        sides.append(lease.assignment.left_side)
    assert {"a", "b"} == set(sides)


def test_gold_pairs_are_mixed_in_at_the_gold_rate(db, settings, project) -> None:
    gold = make_pair(db, project, kind="gold", gold_choice="a")
    live = make_pair(db, project)
    project.gold_rate = 0.0
    db.flush()
    user = make_evaluator(db, project)
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None and lease.pair.id == live.id
    project.gold_rate = 1.0
    db.flush()
    # Gold pairs ignore overlap: every evaluator gets each gold pair once.
    for _ in range(3):
        other = make_evaluator(db, project)
        got = service.next_pair(db, settings, other, project)
        assert got is not None and got.pair.id == gold.id


def test_gold_rate_is_a_share_of_requests(db, settings, project) -> None:
    make_pair(db, project, kind="gold", gold_choice="b")
    make_pairs(db, project, 40)
    project.gold_rate = 0.25
    db.flush()
    rng = random.Random(7)
    kinds = []
    for _ in range(40):
        lease = service.next_pair(db, settings, make_evaluator(db, project), project, rng=rng)
        assert lease is not None
        kinds.append(lease.pair.kind)
    assert 4 <= kinds.count("gold") <= 18


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_active_selection_prefers_small_margins(db, settings, project, share) -> None:
    oldest = make_pair(db, project, reward_margin=3.0)
    make_pair(db, project, reward_margin=-1.5)
    closest = make_pair(db, project, reward_margin=-0.1)
    make_pair(db, project)
    tuned = settings.model_copy(update={"active_selection_share": share})
    lease = service.next_pair(db, tuned, make_evaluator(db, project), project)
    assert lease is not None
    assert lease.pair.id == (closest.id if share == 1.0 else oldest.id)


def test_retired_pair_releases_its_lease(db, settings, project) -> None:
    pair = make_pair(db, project)
    user = make_evaluator(db, project)
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None
    pair.status = "retired"
    db.flush()
    assert service.next_pair(db, settings, user, project) is None
    db.refresh(lease.assignment)
    assert lease.assignment.status == "released"


def test_heartbeat_extends_a_live_lease_only(db, settings, project) -> None:
    make_pair(db, project)
    user = make_evaluator(db, project)
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None
    lease.assignment.expires_at = utcnow() + timedelta(seconds=30)
    db.flush()
    extended = service.heartbeat(db, settings, user, lease.assignment.id)
    assert extended.expires_at > utcnow() + timedelta(minutes=settings.lease_minutes - 1)
    with pytest.raises(service.NotFound):
        service.heartbeat(db, settings, make_evaluator(db, project), lease.assignment.id)
    lease.assignment.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    with pytest.raises(service.LeaseExpired):
        service.heartbeat(db, settings, user, lease.assignment.id)


def test_counters_and_gold_accuracy(db, settings, project) -> None:
    make_pair(db, project, kind="gold", gold_choice="a")
    make_pair(db, project, kind="gold", gold_choice="tie")
    make_pair(db, project)
    project.gold_rate = 1.0
    db.flush()
    user = make_evaluator(db, project)
    for _ in range(3):
        lease = service.next_pair(db, settings, user, project)
        assert lease is not None
        if lease.pair.kind == "gold" and lease.pair.gold_choice == "a":
            # Answer "a" correctly, whichever side it was shown on.
            choice = "left" if lease.assignment.left_side == "a" else "right"
        else:
            choice = "left"  # wrong for the tie gold pair
        submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice=choice))
    figures = service.counters(db, user, project)
    assert (figures.today, figures.total) == (3, 3)
    # Today's gold answers are not counted yet: the figure would point at the gold pair.
    assert (figures.gold_correct, figures.gold_total) == (0, 0)
    assert figures.gold_accuracy is None
    # From the next day on they are, in aggregate.
    yesterday = utcnow() - timedelta(days=1)
    for comparison in db.scalars(select(Comparison).where(Comparison.user_id == user.id)):
        comparison.created_at = yesterday
    db.flush()
    figures = service.counters(db, user, project)
    assert (figures.today, figures.total) == (0, 3)
    assert (figures.gold_correct, figures.gold_total) == (1, 2)
    assert figures.gold_accuracy == 0.5
    rows = db.scalars(select(Assignment).where(Assignment.user_id == user.id)).all()
    assert {a.status for a in rows} == {"submitted"}
