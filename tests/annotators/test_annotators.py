"""Invitations, deactivation, and the per-annotator figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import binomtest
from sqlalchemy import select

from app.annotators import service
from app.annotators.stats import annotator_stats, project_annotator_stats
from app.auth.service import AccountError, start_session
from app.models import Assignment, Invitation, User, UserSession
from tests import factories as f
from tests.conftest import login


def test_invitation_sets_password_once_and_expires(
    client, logged_in, project, db, settings
) -> None:
    admin, csrf = logged_in("admin")
    r = client.post(
        "/admin/annotators",
        data={
            "csrf_token": csrf,
            "username": "newbie",
            "roles": ["evaluator"],
            "project": project.id,
        },
    )
    assert r.status_code == 200
    link = re.search(r'id="invite-link" value="([^"]+)"', r.text)
    assert link, r.text
    path = link.group(1).replace("http://testserver", "")
    assert db.scalar(select(User).where(User.username == "newbie")) is None

    client.cookies.clear()
    assert "Welcome, newbie" in client.get(path).text
    r = client.post(
        path,
        data={"password": "newbie password", "confirm": "newbie password"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    login(client, "newbie", "newbie password")
    user = db.scalar(select(User).where(User.username == "newbie"))
    assert user is not None and user.roles == {"evaluator"}
    client.cookies.clear()
    r = client.post(path, data={"password": "another password", "confirm": "another password"})
    assert r.status_code == 410 and "already been used" in r.text

    token = service.invite(db, settings, "late", {"evaluator"}, project, admin.id)
    inv = db.scalar(select(Invitation).where(Invitation.username == "late"))
    inv.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.flush()
    with pytest.raises(AccountError, match="expired"):
        service.accept_link(db, settings, token, "late password x")
    assert client.get(f"/invite/{token}").status_code == 410


def test_reset_link_changes_password_and_ends_sessions(db, settings, make_user) -> None:
    user = make_user("evaluator")
    start_session(db, settings, user, None)
    token = service.reset_link(db, settings, user, None)
    service.accept_link(db, settings, token, "a brand new password")
    assert db.scalar(select(UserSession).where(UserSession.user_id == user.id)) is None
    with pytest.raises(AccountError, match="already been used"):
        service.accept_link(db, settings, token, "third password here")


def test_deactivation_releases_leases_ends_sessions_keeps_labels(
    db, settings, project, make_user, client, logged_in
) -> None:
    worker = make_user("evaluator")
    done = f.make_pair(db, project)
    f.compare(db, done, worker, "a")
    open_pair = f.make_pair(db, project)
    f.lease(db, open_pair, worker)
    db.commit()
    _, csrf = logged_in("admin")
    r = client.post(f"/api/v1/annotators/{worker.id}/deactivate", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json() == {"released_leases": 1}
    db.expire_all()
    assert db.get(User, worker.id).active is False
    leases = db.scalars(select(Assignment.status).where(Assignment.user_id == worker.id)).all()
    assert sorted(leases) == ["released", "submitted"]
    r = client.get(f"/api/v1/annotators/{worker.id}/stats", headers={"X-CSRF-Token": csrf})
    assert r.json()["labels"] == 1  # labels kept


def test_annotator_figures(db, settings, project, make_user) -> None:
    me, other1, other2 = make_user("evaluator"), make_user("evaluator"), make_user("evaluator")
    day1 = datetime(2026, 11, 1, 12, tzinfo=UTC)
    # 10 side picks, 8 of them of the left side.
    for i in range(10):
        pr = f.make_pair(db, project)
        left = "a" if i % 2 == 0 else "b"
        choice = left if i < 8 else ("b" if left == "a" else "a")
        f.compare(
            db,
            pr,
            me,
            choice,
            left=left,
            decision_ms=2000 + 1000 * i,
            at=day1,
            flags=["unsafe"] if i < 3 else [],
        )
    # Gold: 3 of 4 right.
    for i, answer in enumerate(["a", "a", "b", "b"]):
        gp = f.make_pair(db, project, kind="gold", gold_choice=answer)
        f.compare(db, gp, me, "a" if i != 3 else "b", at=day1 + timedelta(days=1))
    # Overlap: agree on one, disagree on one, one where the others tie (not counted).
    for mine, theirs in [("a", ["a", "a"]), ("tie", ["b", "b"]), ("both_bad", ["a", "b"])]:
        pr = f.make_pair(db, project, labels_required=3)
        f.compare(db, pr, me, mine, at=day1 + timedelta(days=1))
        f.compare(db, pr, other1, theirs[0])
        f.compare(db, pr, other2, theirs[1])
    s = annotator_stats(db, project.id, me.id, settings)
    assert s.labels == 17
    assert [(d.isoformat(), n) for d, n in s.per_day] == [("2026-11-01", 10), ("2026-11-02", 7)]
    assert s.gold_total == 4 and s.gold_accuracy == 0.75
    assert s.overlap_pairs == 2 and s.agreement == 0.5
    # Side picks: the 10 above (8 left) + the 4 gold and 1 overlap "a" picks, all shown left=a.
    assert s.side_picks == 15
    assert s.left_picks == 8 + 3 + 1  # gold picks: a, a, a (left a) and b (right) → 3 left
    assert s.bias_p == pytest.approx(binomtest(12, 15, 0.5).pvalue)
    assert s.bias_p == pytest.approx(0.03515625)
    assert s.tie_share == pytest.approx(1 / 17) and s.both_bad_share == pytest.approx(1 / 17)
    assert s.flags == {"unsafe": 3}
    assert s.median_seconds == 5.0  # 2..11 s and seven 5 s labels
    # The quality page's one pass over the project gives everyone the same figures.
    everyone = project_annotator_stats(db, project.id, settings)
    assert set(everyone) == {me.id, other1.id, other2.id}
    assert everyone[me.id] == s
    o1 = annotator_stats(db, project.id, other1.id, settings)
    assert everyone[other1.id] == o1
    # other1 agrees with the others on the first pair; on the other two the others split.
    assert o1.labels == 3 and o1.overlap_pairs == 1 and o1.agreements == 1
    # Someone who never labelled here gets zeros, not an error.
    assert annotator_stats(db, project.id, make_user("evaluator").id, settings).labels == 0


def test_evaluator_cannot_see_figures(client, logged_in, make_user) -> None:
    other = make_user("evaluator")
    _, csrf = logged_in("evaluator")
    assert client.get(f"/api/v1/annotators/{other.id}/stats").status_code == 403
    assert client.get(f"/admin/annotators/{other.id}", follow_redirects=False).status_code == 403
    assert client.get("/api/v1/export?format=raw").status_code in (403, 404)
