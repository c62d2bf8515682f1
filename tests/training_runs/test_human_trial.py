"""Promotion decided by people: a candidate on trial meets the active version head to head;
simulated evaluators' votes promote it or reject it, and the decision keeps its votes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_user
from app.domain import trial, versions
from app.domain.project_settings import update_settings
from app.labeling.schemas import SubmitIn
from app.labeling.service import next_pair
from app.labeling.submission import submit
from app.models import AuditEvent, Completion, Pair, PolicyVersion, Project, User
from app.projects.service import add_member
from app.sampling.worker import Sampler
from app.settings import Settings
from app.simulate.rules import parse_rule
from tests import factories as f
from tests.conftest import PASSWORD
from tests.factories import make_prompt, make_version
from tests.factories.sampling import FakeBackend, sampler_settings

# v1 (the candidate) always says "please"; v0 (the active version) always says "plain".
TEXTS = {0: "A plain answer number {seed}.", 1: "Please find answer number {seed}."}
VOTES, MOST = 12, 40


class ByVersion(FakeBackend):
    def __init__(self) -> None:
        super().__init__(lambda r, i: TEXTS[self.loaded[-1].number].format(seed=r.seed))


def on_trial(db: Session, project: Project) -> tuple[PolicyVersion, PolicyVersion]:
    """v0 active, v1 (its child) on trial, in a project whose promotion is a human trial."""
    update_settings(
        project, promotion="human_trial", trial_votes=VOTES, trial_max_votes=MOST, trial_share=0.5
    )
    project.head_to_head_share = 0.0  # only trial pairs meet two versions here
    v0 = make_version(db, project, 0, "policy/v0")
    v1 = make_version(db, project, 1, "policy/v1", status="candidate")
    v1.parent_id = v0.id
    versions.start_trial(db, v1, reason="gates passed")
    db.commit()
    return v0, v1


def evaluators(db: Session, settings: Settings, project: Project, n: int) -> list[User]:
    users = []
    for k in range(n):
        user = create_user(db, settings, f"sim-{k}", PASSWORD, {"evaluator"})
        user.simulated = True
        add_member(db, project, user)
        users.append(user)
    db.commit()
    return users


def label_everything(db: Session, settings: Settings, users: list[User], rule: str) -> int:
    """Each simulated evaluator labels every pair offered to it by its hidden rule."""
    judge = parse_rule(rule)
    done = 0
    for user in users:
        project = db.scalars(select(Project)).first()
        assert project is not None
        while (lease := next_pair(db, settings, user, project)) is not None:
            choice, strength = judge(lease.prompt.text, lease.left.text, lease.right.text)
            screen = {"a": "left", "b": "right"}.get(choice, choice)
            submit(
                db,
                user,
                SubmitIn(assignment_id=lease.assignment.id, choice=screen, strength=strength),
            )
            db.commit()
            done += 1
    return done


def run_loop(
    db: Session,
    session_factory: sessionmaker[Session],
    project: Project,
    tmp_path: Path,
    rule: str,
    candidate: PolicyVersion,
) -> tuple[Sampler, int]:
    """Sample and label, round after round, until the trial is decided; returns the sampler
    and how many rounds it took."""
    settings = sampler_settings(tmp_path, pair_buffer=4, pair_low_water=2, sample_batch_size=4)
    for k in range(6):
        make_prompt(db, project, f"Question {k}?")
    db.commit()
    users = evaluators(db, settings, project, 3)
    sampler = Sampler(session_factory, settings, backend_factory=ByVersion)
    for rounds in range(1, 30):
        sampler.step()
        label_everything(db, settings, users, rule)
        db.refresh(candidate)
        if candidate.status != "trial":
            return sampler, rounds
        sampler.step()  # the review at the start of each step decides
        db.refresh(candidate)
        if candidate.status != "trial":
            return sampler, rounds
    raise AssertionError(f"the trial never ended: {candidate.metrics}")


def trial_pairs(db: Session, version: PolicyVersion, status: str | None = None) -> int:
    stmt = select(func.count(Pair.id)).where(
        Pair.policy_version_id == version.id, Pair.kind == "head_to_head"
    )
    if status:
        stmt = stmt.where(Pair.status == status)
    return int(db.scalar(stmt) or 0)


def test_a_candidate_the_evaluators_prefer_is_promoted_with_its_votes(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    v0, v1 = on_trial(db, project)
    run_loop(db, session_factory, project, tmp_path, "keyword:please", v1)

    db.refresh(v0)
    assert (v1.status, v0.status) == ("active", "archived")
    record = v1.metrics["trial"]
    assert record["decision"] == "promoted" and record["opponent"] == 0
    assert record["votes"] >= VOTES and record["wins"] == record["votes"] and record["losses"] == 0
    assert record["low"] > 0.5 and record["rate"] == 1.0 and "decided_at" in record
    # The votes recorded are the ones stored: trial pairs pit v1's text against v0's.
    pair = db.scalars(select(Pair).where(Pair.policy_version_id == v1.id)).first()
    assert pair is not None
    a, b = db.get(Completion, pair.completion_a_id), db.get(Completion, pair.completion_b_id)
    assert a is not None and b is not None
    assert (a.policy_version_id, b.policy_version_id) == (v1.id, v0.id)
    reasons = db.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "policy.promoted")
    ).all()
    assert any("human trial: won" in str(r) for r in reasons)


def test_a_candidate_the_evaluators_dislike_is_rejected_and_v0_keeps_serving(
    db: Session, session_factory: sessionmaker[Session], project: Project, tmp_path: Path
) -> None:
    v0, v1 = on_trial(db, project)
    sampler, _ = run_loop(db, session_factory, project, tmp_path, "keyword:plain", v1)

    db.refresh(v0)
    assert (v1.status, v0.status) == ("rejected", "active")
    record = v1.metrics["trial"]
    assert record["decision"] == "rejected" and record["wins"] == 0
    assert record["votes"] >= VOTES and record["high"] < 0.5
    assert trial_pairs(db, v1, "open") == 0
    sampler.step()  # no more trial pairs once it is decided; the live buffer goes on
    assert trial_pairs(db, v1, "open") == 0
    assert sampler.trial_backends == {}


def test_too_few_votes_wait_and_a_vote_counts_whichever_side_was_a(
    db: Session, settings: Settings, project: Project, make_user
) -> None:
    v0, v1 = on_trial(db, project)
    judge = make_user("evaluator")
    f.judgements(db, project, judge, v1, v0, "a" * (VOTES - 1) + "x")  # both-bad: no vote
    assert trial.review(db, settings, project.id) is None
    assert v1.status == "trial" and v1.metrics["trial"]["votes"] == VOTES - 1
    assert v1.metrics["trial"]["reason"] == f"{VOTES - 1} of {VOTES} votes so far"

    f.judgements(db, project, judge, v0, v1, "abab")  # v0 shown as a: each b is v1's win
    db.expire_all()
    assert trial.review(db, settings, project.id) == "promoted"
    db.refresh(v1)
    record = v1.metrics["trial"]
    assert (record["wins"], record["losses"], record["ties"], record["both_bad"]) == (13, 2, 0, 1)
    assert record["votes"] == 15 and record["low"] > 0.5 and v1.status == "active"


def test_split_votes_collect_up_to_the_most_then_reject(
    db: Session, settings: Settings, project: Project, make_user
) -> None:
    v0, v1 = on_trial(db, project)
    judge = make_user("evaluator")
    f.judgements(db, project, judge, v1, v0, "ab" * (VOTES // 2))
    assert trial.review(db, settings, project.id) is None
    assert v1.status == "trial" and "collecting up to 40" in v1.metrics["trial"]["reason"]
    f.judgements(db, project, judge, v1, v0, "abt" * ((MOST - VOTES) // 3) + "ab")
    waiting = f.head_to_head_pair(db, project, v0, v1)  # an open trial pair nobody labelled yet
    db.expire_all()
    assert trial.review(db, settings, project.id) == "rejected"
    db.refresh(v1)
    db.refresh(waiting)
    assert waiting.status == "retired"
    record = v1.metrics["trial"]
    assert v1.status == "rejected" and record["votes"] >= MOST
    assert record["low"] < 0.5 < record["high"] and "undecided after" in record["reason"]


def test_a_trial_whose_opponent_is_no_longer_live_is_rejected(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    v2 = make_version(db, project, 2, "policy/v2")  # someone made another version live
    assert trial.review(db, settings, project.id) == "rejected"
    assert v1.status == "rejected" and "no longer live" in v1.metrics["trial"]["reason"]
    assert v2.status == "active"


def test_a_newer_trial_supersedes_an_older_one_and_ml_staff_can_end_one_by_hand(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    v2 = make_version(db, project, 2, "policy/v2", status="candidate")
    v2.parent_id = v0.id
    versions.start_trial(db, v2, reason="gates passed")
    assert (v1.status, v2.status) == ("rejected", "trial")
    assert versions.trial_version(db, project.id) == v2
    with pytest.raises(versions.PromotionError, match="not a candidate"):
        versions.start_trial(db, v1, reason="again")
    versions.promote(db, settings, v2, None)  # an ML override
    assert v2.status == "active" and v2.metrics["trial"]["decision"] == "promoted by hand"


def test_a_run_whose_gates_pass_puts_its_candidate_on_trial(
    committed_engine, settings: Settings, tiny_policy_dir: Path, tiny_reward_dir: Path
) -> None:
    from app.db import make_sessionmaker, transaction
    from app.domain import jobs
    from tests.training_runs.test_worker import seed, tiny_overrides
    from trainer.worker import Worker

    factory = make_sessionmaker(committed_engine)
    project_id = seed(factory, settings, tiny_policy_dir)
    with transaction(factory) as db:
        project = db.get(Project, project_id)
        assert project is not None
        update_settings(project, promotion="human_trial")
        config = tiny_overrides(tiny_reward_dir, **{"gates.min_reward_gain": -1e9})
        jobs.enqueue(db, settings, project_id, recipe="tiny", config=config)
    assert Worker(settings, factory, heartbeat_seconds=0.2).serve(once=True) == 1
    with transaction(factory) as db:
        statuses = dict(
            db.execute(
                select(PolicyVersion.number, PolicyVersion.status).where(
                    PolicyVersion.project_id == project_id
                )
            ).all()
        )
        assert statuses == {0: "active", 1: "trial"}  # v0 keeps serving meanwhile
        assert versions.trial_version(db, project_id).metrics["gates"]["passed"]  # type: ignore[union-attr]


def test_the_versions_page_shows_each_trial_decision_with_its_votes(
    client, logged_in, db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    judge = create_user(db, settings, "judge", PASSWORD, {"evaluator"})
    f.judgements(db, project, judge, v1, v0, "a" * VOTES)
    trial.review(db, settings, project.id)
    db.commit()
    logged_in("ml")
    page = client.get(f"/training/versions?project={project.id}")
    assert page.status_code == 200
    cell = page.text.split('id="trial-1">', 1)[1].split("</td>", 1)[0]
    assert f"{VOTES} votes vs v0: {VOTES} won, 0 lost, 0 tied" in cell
    assert "win rate 100 %" in cell and "<strong>promoted</strong>" in cell
    assert 'id="trial-0">—' in page.text


def test_ml_staff_reject_a_version_on_trial_by_hand_on_the_versions_page(
    client, logged_in, db: Session, settings: Settings, project: Project, make_user
) -> None:
    v0, v1 = on_trial(db, project)
    f.judgements(db, project, make_user("evaluator"), v1, v0, "abb")
    trial.review(db, settings, project.id)  # the sampler's review: the live tally, 3 votes
    waiting = f.head_to_head_pair(db, project, v0, v1)  # an open trial pair nobody labelled yet
    db.commit()
    staff, csrf = logged_in("ml")
    page = client.get(f"/training/versions?project={project.id}")
    assert 'id="reject-1"' in page.text and 'id="reject-0"' not in page.text

    url = f"/training/versions/{v1.id}/reject"
    assert client.post(url, data={"note": "x"}).status_code == 403  # no CSRF token
    r = client.post(
        url, data={"csrf_token": csrf, "note": "answers are rude"}, follow_redirects=False
    )
    assert r.status_code == 303
    db.expire_all()
    v1, v0 = db.get_one(PolicyVersion, v1.id), db.get_one(PolicyVersion, v0.id)
    assert (v1.status, v0.status) == ("rejected", "active")
    record = v1.metrics["trial"]
    assert record["decision"] == "rejected by hand" and record["reason"] == "answers are rude"
    assert (record["votes"], record["wins"], record["losses"]) == (3, 1, 2)  # kept with it
    assert "decided_at" in record
    assert db.get_one(Pair, waiting.id).status == "retired"
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "policy.rejected")).one()
    assert event.actor_id == staff.id and "rejected by hand: answers are rude" in str(event.details)
    page = client.get(f"/training/versions?project={project.id}")
    assert "rejected by hand" in page.text and 'id="reject-1"' not in page.text

    again = client.post(url, data={"csrf_token": csrf})
    assert again.status_code == 409 and "not on trial" in again.text


def test_the_api_rejects_only_a_version_on_trial_and_only_for_ml_staff(
    client, logged_in, db: Session, project: Project, make_user
) -> None:
    from app.auth.service import create_api_token

    v0, v1 = on_trial(db, project)
    evaluator = make_user("evaluator")
    bearer = {"Authorization": f"Bearer {create_api_token(db, evaluator, 'e')[0]}"}
    db.commit()
    url = f"/api/v1/policy-versions/{v1.id}/reject"
    assert client.post(url, headers=bearer).status_code == 403
    _, csrf = logged_in("ml")
    h = {"X-CSRF-Token": csrf}
    assert client.post(url, json={"note": "n" * 501}, headers=h).status_code == 422
    assert client.post(f"/api/v1/policy-versions/{v0.id}/reject", headers=h).status_code == 409
    r = client.post(url, json={"note": "not better"}, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "rejected" and out["metrics"]["trial"]["reason"] == "not better"
    r = client.post(url, headers=h)
    assert r.status_code == 409 and "not on trial" in r.json()["detail"]
    assert client.post("/api/v1/policy-versions/999999/reject", headers=h).status_code == 404
    db.expire_all()
    assert db.get_one(PolicyVersion, v0.id).status == "active"
