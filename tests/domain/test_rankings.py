"""Rankings of K answers: stored through the one submission path, and their K choose 2 implied
preferences in the trainer's snapshot and the TRL export alike."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.rankings import kendall_tau_b, mean_pairwise_tau, rank_of
from app.export.service import ExportOptions, iter_lines
from app.labeling import service
from app.labeling.schemas import RankIn, SubmitIn
from app.labeling.submission import InvalidSubmission, submit
from app.models import Comparison, Completion, Pair, Project, Ranking, User
from app.settings import Settings
from tests.factories import make_prompt, make_version, ranking_task
from trainer.data import snapshot

TEXTS = ["best answer", "second answer", "third answer", "worst answer"]


def _task(db: Session, project: Project, **kw: object) -> Pair:
    prompt = make_prompt(db, project, "Explain rain.")
    # Sampled in a shuffled order: a and b are not the two best.
    order = [TEXTS[2], TEXTS[0], TEXTS[3], TEXTS[1]]
    return ranking_task(db, project, prompt, make_version(db, project), order, **kw)


def _ranking_by_text(db: Session, lease: service.Lease, ordered: list[list[str]]) -> str:
    ids = {c.text: c.id for c in lease.items}
    return ",".join("=".join(str(ids[t]) for t in tier) for tier in ordered)


def _rank(
    db: Session, settings: Settings, user: User, project: Project, ordered: list[list[str]]
) -> Comparison:
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None and len(lease.items) == 4
    data = RankIn(assignment_id=lease.assignment.id, ranking=_ranking_by_text(db, lease, ordered))
    return submit(db, user, data).comparison


def _pairs(rows: list) -> set[tuple[str, str]]:
    return {(r.chosen, r.rejected) for r in rows}


def _exported(db: Session, project: Project) -> set[tuple[str, str]]:
    text = "".join(iter_lines(db, project, ExportOptions(kind="trl"), "s" * 40))
    return {(r["chosen"], r["rejected"]) for r in map(json.loads, text.splitlines())}


ALL_SIX = {(TEXTS[i], TEXTS[j]) for i in range(4) for j in range(4) if i < j}


def test_a_ranking_of_four_yields_its_six_preferences_in_snapshot_and_export(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    user = make_user("evaluator")
    pair = _task(db, project)
    comparison = _rank(db, settings, user, project, [[t] for t in TEXTS])

    stored = db.scalars(select(Ranking).where(Ranking.pair_id == pair.id)).one()
    assert stored.comparison_id == comparison.id and len(stored.tiers) == 4
    # The comparison holds the a-versus-b vote: a ("third") lost to b ("best").
    assert comparison.choice == "b"
    db.refresh(pair)
    assert pair.status == "complete" and pair.labels_received == 1

    snap = snapshot(db, project.id, comparison.id, min_comparisons=1, validation_share=0)
    assert len(snap.rows) == 6 and _pairs(snap.rows) == ALL_SIX
    assert {r.pair_id for r in snap.rows} == {pair.id}
    assert _exported(db, project) == ALL_SIX


def test_tied_answers_teach_no_preference(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    user = make_user("evaluator")
    _task(db, project)
    comparison = _rank(db, settings, user, project, [[TEXTS[0]], [TEXTS[1], TEXTS[2]], [TEXTS[3]]])
    snap = snapshot(db, project.id, comparison.id, min_comparisons=1, validation_share=0)
    assert _pairs(snap.rows) == ALL_SIX - {(TEXTS[1], TEXTS[2])}
    assert snap.counts["dropped_tie"] == 1


def test_overlapped_rankings_are_decided_pair_by_pair_by_majority(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    _task(db, project, labels_required=3)
    swapped = [[TEXTS[1]], [TEXTS[0]], [TEXTS[2]], [TEXTS[3]]]
    _rank(db, settings, make_user("evaluator"), project, [[t] for t in TEXTS])
    _rank(db, settings, make_user("evaluator"), project, swapped)
    last = _rank(db, settings, make_user("evaluator"), project, [[t] for t in TEXTS])
    snap = snapshot(db, project.id, last.id, min_comparisons=1, validation_share=0)
    assert _pairs(snap.rows) == ALL_SIX  # two of three put "best" above "second"


def test_a_gold_ranking_task_is_decided_by_its_gold_ranks(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    pair = _task(db, project, kind="gold", gold_ranks=[3, 1, 4, 2])
    assert pair.gold_choice == "b"  # gold accuracy reads the a-versus-b answer as for pairs
    project.gold_rate = 1.0
    reversed_ = [[t] for t in reversed(TEXTS)]
    comparison = _rank(db, settings, make_user("evaluator"), project, reversed_)
    assert comparison.is_gold
    snap = snapshot(db, project.id, comparison.id, min_comparisons=1, validation_share=0)
    assert _pairs(snap.rows) == ALL_SIX


def test_ranking_submission_is_idempotent_and_checked(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    user = make_user("evaluator")
    _task(db, project)
    lease = service.next_pair(db, settings, user, project)
    assert lease is not None
    ids = [c.id for c in lease.items]
    with pytest.raises(InvalidSubmission, match="exactly once"):
        submit(db, user, RankIn(assignment_id=lease.assignment.id, ranking=f"{ids[0]},{ids[1]}"))
    with pytest.raises(InvalidSubmission, match="ranking of its responses"):
        submit(db, user, SubmitIn(assignment_id=lease.assignment.id, choice="left"))
    data = RankIn(assignment_id=lease.assignment.id, ranking=",".join(map(str, ids)))
    first = submit(db, user, data)
    again = submit(db, user, data)
    assert again.replayed and again.comparison.id == first.comparison.id
    assert db.scalar(select(func.count(Ranking.id))) == 1
    assert db.scalar(select(func.count(Completion.id))) == 4


def test_kendall_tau_between_annotators() -> None:
    same = rank_of([[1], [2], [3], [4]])
    assert kendall_tau_b(same, same) == 1.0
    assert kendall_tau_b(same, rank_of([[4], [3], [2], [1]])) == -1.0
    one_swap = rank_of([[2], [1], [3], [4]])
    assert kendall_tau_b(same, one_swap) == pytest.approx(4 / 6)
    with_tie = rank_of([[1], [2, 3], [4]])
    assert 0 < (kendall_tau_b(same, with_tie) or 0) < 1
    assert mean_pairwise_tau([same, same, one_swap]) == pytest.approx((1 + 4 / 6 + 4 / 6) / 3)


def test_agreement_on_rankings_is_kendalls_tau_on_the_quality_page(
    db: Session,
    settings: Settings,
    project: Project,
    make_user: Callable[..., User],
    client,
    logged_in,
) -> None:
    from app.quality.agreement import project_agreement

    _task(db, project, labels_required=2)
    swapped = [[TEXTS[1]], [TEXTS[0]], [TEXTS[2]], [TEXTS[3]]]  # one of six orders differs
    _rank(db, settings, make_user("evaluator"), project, [[t] for t in TEXTS])
    _rank(db, settings, make_user("evaluator"), project, swapped)
    db.commit()
    agreement = project_agreement(db, project.id)
    assert agreement.ranked_tasks == 1
    assert agreement.ranking_tau == pytest.approx(4 / 6)  # (5 concordant - 1 discordant) / 6

    logged_in("admin")
    page = client.get(f"/admin/quality?project={project.id}").text
    assert "1 task(s) ranked by two or more" in page and '<td id="ranking-tau">0.667</td>' in page


def test_ranking_rows_weigh_what_their_annotators_are_worth(
    db: Session, settings: Settings, project: Project, make_user: Callable[..., User]
) -> None:
    from app.domain.preferences import Selection, preference_rows

    _task(db, project, labels_required=2)
    trusted, doubtful = make_user("evaluator"), make_user("evaluator")
    _rank(db, settings, trusted, project, [[t] for t in TEXTS])
    _rank(db, settings, doubtful, project, [[t] for t in TEXTS])
    weights = {trusted.id: 1.0, doubtful.id: 0.2}
    rows = list(preference_rows(db, project, Selection(), weights=weights))
    assert _pairs(rows) == ALL_SIX
    assert {round(r.weight, 3) for r in rows} == {0.6}  # the mean of the two who agree
    assert {r.weight for r in preference_rows(db, project, Selection())} == {1.0}
