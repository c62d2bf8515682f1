"""Per-version safety: the share of each version's judged responses flagged unsafe, shown on
the versions and Loop pages, and the gate that rejects a candidate flagged more often."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import create_user
from app.domain import safety, trial, versions
from app.domain.project_settings import update_settings
from app.models import AuditEvent, Comparison, PolicyVersion, Project, User
from app.settings import Settings
from tests import factories as f
from tests.conftest import PASSWORD

VOTES = 12


def on_trial(db: Session, project: Project) -> tuple[PolicyVersion, PolicyVersion]:
    update_settings(project, promotion="human_trial", trial_votes=VOTES, trial_max_votes=40)
    v0 = f.make_version(db, project, 0, status="active")
    v1 = f.make_version(db, project, 1, status="candidate")
    v1.parent_id = v0.id
    versions.start_trial(db, v1, reason="gates passed")
    return v0, v1


def flagged(row: Comparison) -> Comparison:
    row.flags = ["off-topic", "unsafe"]
    return row


def live_judgements(
    db: Session, project: Project, user: User, v: PolicyVersion, n: int, unsafe: int
) -> None:
    """`n` judgements of pairs of `v`'s own samples, the first `unsafe` of them flagged."""
    for k in range(n):
        row = f.compare(db, f.head_to_head_pair(db, project, v, v, kind="live"), user, "a")
        if k < unsafe:
            flagged(row)
    db.flush()


def judge_user(db: Session, settings: Settings, name: str = "judge") -> User:
    return create_user(db, settings, name, PASSWORD, {"evaluator"})


def test_a_flag_counts_against_the_version_that_wrote_it_or_the_side_not_preferred(
    db: Session, settings: Settings, project: Project
) -> None:
    v0 = f.make_version(db, project, 0, status="active")
    v1 = f.make_version(db, project, 1, status="candidate")
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 10, unsafe=1)
    flagged(
        f.compare(db, f.head_to_head_pair(db, project, v1, v0), user, "b")
    )  # v0 preferred: v1's fault
    flagged(
        f.compare(db, f.head_to_head_pair(db, project, v0, v1), user, "both_bad")
    )  # both to blame
    f.compare(db, f.head_to_head_pair(db, project, v0, v1), user, "a")  # not flagged
    gold = f.head_to_head_pair(db, project, v0, v0, kind="gold")
    flagged(f.compare(db, gold, user, "a"))  # people's answers: not the version's
    db.flush()

    shares = safety.unsafe_shares(db, project)
    assert (shares[v0.id].flagged, shares[v0.id].judged) == (2, 13)
    assert (shares[v1.id].flagged, shares[v1.id].judged) == (2, 3)
    assert shares[v1.id].share == pytest.approx(2 / 3)
    assert shares[v1.id].low < 2 / 3 < shares[v1.id].high

    update_settings(project, excluded_annotators=[user.id])
    assert safety.unsafe_shares(db, project) == {}


def test_the_safety_gate_rejects_a_candidate_flagged_more_often_though_it_wins_its_votes(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 40, unsafe=2)  # v0: 2 of 40 live pairs flagged
    f.judgements(db, project, user, v1, v0, "a" * VOTES)  # v1 wins every vote...
    for _ in range(6):  # ...but its answers are flagged unsafe on a further six pairs
        flagged(f.compare(db, f.head_to_head_pair(db, project, v1, v0), user, "b"))
    db.flush()

    assert trial.review(db, settings, project.id) == "rejected"
    db.refresh(v1)
    db.refresh(v0)
    assert (v1.status, v0.status) == ("rejected", "active")
    record = v1.metrics["trial"]
    assert record["decision"] == "rejected"
    assert record["reason"].startswith("safety gate: flagged unsafe in 6 of 18 judgements")
    assert "above v0's 3%" in record["reason"]  # 2 of 58
    events = db.scalars(select(AuditEvent.details).where(AuditEvent.action == "policy.rejected"))
    assert any("safety gate" in str(e) for e in events)


def test_a_candidate_flagged_no_more_often_than_the_active_version_passes_the_gate(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 20, unsafe=2)  # 10 %
    f.judgements(db, project, user, v1, v0, "a" * VOTES)
    flagged(
        f.compare(db, f.head_to_head_pair(db, project, v1, v0), user, "b")
    )  # 1 of 13: within reach
    db.flush()
    shares = safety.unsafe_shares(db, project)
    assert safety.refusal(shares, v1, v0) is None
    assert trial.review(db, settings, project.id) == "promoted"


def test_a_candidate_nobody_judged_passes_the_gate(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    live_judgements(db, project, judge_user(db, settings), v0, 10, unsafe=0)
    assert safety.refusal(safety.unsafe_shares(db, project), v1, v0) is None


def test_the_versions_and_loop_pages_show_each_versions_unsafe_share(
    client, logged_in, db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = on_trial(db, project)
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 20, unsafe=1)
    for _ in range(4):
        flagged(f.compare(db, f.head_to_head_pair(db, project, v1, v0), user, "b"))
    f.judgements(db, project, user, v1, v0, "aaaa")
    db.commit()
    logged_in("ml", "admin")

    page = client.get(f"/training/versions?project={project.id}")
    assert page.status_code == 200
    cell = page.text.split('id="unsafe-1">', 1)[1].split("</td>", 1)[0]
    assert "<strong>50%</strong>" in cell and "4 of 8" in cell
    low, high = (
        round(x * 100)
        for x in (
            safety.unsafe_shares(db, project)[v1.id].low,
            safety.unsafe_shares(db, project)[v1.id].high,
        )
    )
    assert f"({low}–{high}%" in cell
    cell0 = page.text.split('id="unsafe-0">', 1)[1].split("</td>", 1)[0]
    assert "<strong>4%</strong>" in cell0 and "1 of 28" in cell0
    assert "Unsafe shares as of" in page.text

    loop = client.get(f"/projects/{project.id}/loop")
    assert loop.status_code == 200
    row = loop.text.split('data-version="1"', 1)[1].split("</tr>", 1)[0]
    assert "<strong>50%</strong>" in row and "4 of 8" in row


def candidate_of(db: Session, project: Project) -> tuple[PolicyVersion, PolicyVersion]:
    """A live v0 and a candidate v1 trained from it whose reward-model gates passed."""
    v0 = f.make_version(db, project, 0, status="active")
    v1 = f.make_version(db, project, 1, status="candidate")
    v1.parent_id = v0.id
    db.flush()
    return v0, v1


def test_an_automatic_promotion_records_the_safety_gate_not_applicable_without_flags(
    client, logged_in, db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = candidate_of(db, project)
    live_judgements(db, project, judge_user(db, settings), v0, 10, unsafe=1)

    safety.promote_automatically(db, settings, v1, reason="run 7")
    db.refresh(v1)
    assert v1.status == "active"
    assert v1.metrics["safety_gate"] == "not applicable: no flags yet"
    db.commit()
    logged_in("ml", "admin")
    page = client.get(f"/training/versions?project={project.id}")
    assert (
        "safety gate: not applicable: no flags yet"
        in page.text.split('id="safety-gate-1">', 1)[1].split("</span>", 1)[0]
    )


def test_an_automatic_promotion_refuses_a_candidate_flagged_more_often(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = candidate_of(db, project)
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 40, unsafe=2)
    for _ in range(6):  # it served in head-to-head pairs before promotion
        flagged(f.compare(db, f.head_to_head_pair(db, project, v1, v0), user, "b"))
    f.judgements(db, project, user, v1, v0, "aaaaaa")
    db.flush()

    safety.promote_automatically(db, settings, v1, reason="run 8")
    db.refresh(v1)
    db.refresh(v0)
    assert (v1.status, v0.status) == ("rejected", "active")
    assert v1.metrics["safety_gate"].startswith("refused: flagged unsafe in 6 of 12")
    events = db.scalars(select(AuditEvent.details).where(AuditEvent.action == "policy.rejected"))
    assert any("run 8: safety gate" in str(e) for e in events)


def test_an_automatic_promotion_passes_a_judged_candidate_flagged_no_more_often(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = candidate_of(db, project)
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 20, unsafe=2)
    f.judgements(db, project, user, v1, v0, "aaaa")
    db.flush()
    safety.promote_automatically(db, settings, v1, reason="run 9")
    db.refresh(v1)
    assert v1.status == "active"
    assert v1.metrics["safety_gate"] == "passed: flagged unsafe in 0 of 4 judgements"


def test_a_live_version_flagged_more_often_than_its_parent_is_marked(
    client, logged_in, db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = candidate_of(db, project)
    versions.promote(db, settings, v1, None, reason="run 10")  # no flags at promotion
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 40, unsafe=1)
    live_judgements(db, project, user, v1, 20, unsafe=8)  # flagged after it went live
    db.commit()
    shares = safety.unsafe_shares(db, project)
    assert set(safety.live_alarms(shares, [v0, v1])) == {v1.id}
    logged_in("ml", "admin")

    page = client.get(f"/training/versions?project={project.id}")
    cell = page.text.split('id="unsafe-1">', 1)[1].split("</td>", 1)[0]
    assert 'id="unsafe-alarm-1"' in cell and "above v0" in cell
    assert 'id="unsafe-alarm-0"' not in page.text
    loop = client.get(f"/projects/{project.id}/loop")
    row = loop.text.split('data-version="1"', 1)[1].split("</tr>", 1)[0]
    assert "more unsafe than v0" in row
    row0 = loop.text.split('data-version="0"', 1)[1].split("</tr>", 1)[0]
    assert "unsafe-alarm" not in row0


def test_a_live_version_no_more_unsafe_than_its_parent_is_not_marked(
    db: Session, settings: Settings, project: Project
) -> None:
    v0, v1 = candidate_of(db, project)
    versions.promote(db, settings, v1, None, reason="run 11")
    user = judge_user(db, settings)
    live_judgements(db, project, user, v0, 20, unsafe=2)
    live_judgements(db, project, user, v1, 20, unsafe=3)
    assert safety.live_alarms(safety.unsafe_shares(db, project), [v0, v1]) == {}
