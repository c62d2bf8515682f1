"""The admin dashboard: labels per day, queue and buffer, active people, agreement, flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.annotators.stats import annotator_stats
from app.dashboard.service import dashboard
from app.models import PolicyVersion
from app.quality.agreement import project_agreement
from tests import factories as f
from tests.factories import make_evaluator, make_project

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_labels_per_day_queue_buffer_and_active_people(db, project, settings) -> None:
    alice, bob, carol, dave = (make_evaluator(db, project) for _ in range(4))
    # Labels: 3 today (one five minutes ago), 2 two days ago, 1 before the 30-day window.
    for minutes in (5, 60, 120):
        f.compare(db, f.make_pair(db, project), alice, "a", at=NOW - timedelta(minutes=minutes))
    for _ in range(2):
        f.compare(db, f.make_pair(db, project), bob, "b", at=NOW - timedelta(days=2))
    f.compare(db, f.make_pair(db, project), bob, "a", at=NOW - timedelta(days=40))
    # Queue: the seven pairs above are open with one label each (labels_required 1).
    need_two = f.make_pair(db, project, labels_required=2)
    f.compare(db, need_two, carol, "a", at=NOW - timedelta(minutes=20))
    f.make_pair(db, project, kind="gold", gold_choice="a")
    f.make_pair(db, project, status="retired")
    f.make_pair(db, project, status="complete")
    # A live lease makes dave active; carol's label is older than 15 minutes.
    lease = f.lease(db, f.make_pair(db, project), dave)
    lease.expires_at = NOW + timedelta(minutes=5)
    stale = f.lease(db, f.make_pair(db, project), carol)
    stale.expires_at = NOW - timedelta(minutes=1)
    other = make_project(db)
    f.lease(db, f.make_pair(db, other), bob).expires_at = NOW + timedelta(minutes=5)
    db.flush()

    board = dashboard(db, project, settings, NOW)

    # Today: alice's three and carol's one; the 40-day-old label is outside the window.
    assert len(board.days) == 30 and board.days[-1] == (NOW.date(), 4)
    assert board.days[-3] == (NOW.date() - timedelta(days=2), 2)
    assert board.labels_in_window == 6
    queue = {q.kind: (q.open_pairs, q.labels_needed) for q in board.queue}
    # Six labelled pairs, need_two and the two leased pairs are open; three labels missing.
    assert queue["live"] == (9, 3)
    assert queue["gold"] == (1, 1) and queue["head_to_head"] == (0, 0)
    [buffer] = board.buffers
    assert (buffer.version, buffer.live, buffer.live_target) == (0, 9, settings.pair_buffer)
    assert [name for _, name in board.active_evaluators] == sorted([alice.username, dave.username])


def test_buffer_lists_each_active_version_only(db, project, settings) -> None:
    f.make_pair(db, project)
    v1 = PolicyVersion(
        project_id=project.id, number=1, checkpoint_uri="v1", base_model="t", status="archived"
    )
    db.add(v1)
    db.flush()
    f.make_pair(db, project, kind="head_to_head")
    f.make_pair(db, project).policy_version_id = v1.id  # an open pair of an archived version
    db.flush()
    board = dashboard(db, project, settings, NOW)
    assert [(b.version, b.live, b.head_to_head) for b in board.buffers] == [(0, 1, 1)]
    assert {q.kind: q.open_pairs for q in board.queue}["live"] == 2


def test_agreement_and_flags_match_the_quality_figures(db, project, settings) -> None:
    steady, biased, guesser, echo = (make_evaluator(db, project) for _ in range(4))
    r1, r2 = "aabbaabbab", "abbbaabbab"
    for x, y in zip(r1, r2, strict=True):
        pr = f.make_pair(db, project, labels_required=3)
        f.compare(db, pr, steady, x, left="a")
        f.compare(db, pr, echo, y, left="b")
    three = f.make_pair(db, project, labels_required=3)
    for u, c in ((steady, "a"), (echo, "a"), (guesser, "tie")):
        f.compare(db, three, u, c)
    # Always picks the left side (position bias), and fast.
    for k in range(25):
        f.compare(
            db, f.make_pair(db, project), biased, "ab"[k % 2], left="ab"[k % 2], decision_ms=900
        )
    # Wrong on every gold pair.
    for _ in range(5):
        f.compare(db, f.make_pair(db, project, kind="gold", gold_choice="a"), guesser, "b")
    db.flush()

    board = dashboard(db, project, settings, NOW)

    expected = project_agreement(db, project.id)
    assert board.agreement.overlapped_pairs == expected.overlapped_pairs == 11
    assert board.agreement.annotators == expected.annotators == 3
    assert board.agreement.alpha == pytest.approx(expected.alpha)
    flagged = {x.username: x.flags for x in board.flagged}
    assert set(flagged) == {biased.username, guesser.username}
    for user in (steady, biased, guesser, echo):
        assert (
            flagged.get(user.username, [])
            == annotator_stats(db, project.id, user.id, settings).trust_flags
        )
    assert any("position bias" in r for r in flagged[biased.username])
    assert any(r.startswith("fast") for r in flagged[biased.username])
    assert any(r.startswith("gold accuracy 0%") for r in flagged[guesser.username])


def test_empty_project(db, project, settings) -> None:
    board = dashboard(db, project, settings, NOW)
    assert board.labels_in_window == 0 and board.flagged == [] and board.buffers == []
    assert board.agreement.alpha is None and board.active_evaluators == []


def test_dashboard_page_for_admins_only(client, logged_in, db, project) -> None:
    user = make_evaluator(db, project)
    f.compare(db, f.make_pair(db, project), user, "a")
    db.commit()
    _, _ = logged_in("admin")
    r = client.get(f"/admin/dashboard?project={project.id}")
    assert r.status_code == 200
    assert r.text.count('<rect class="bar"') == 30
    assert 'data-count="1"' in r.text and 'id="active-count">1<' in r.text
    assert client.get(f"/api/v1/dashboard?project={project.id}").json()["days"][-1][1] == 1
    client.cookies.clear()
    logged_in("evaluator")
    assert client.get("/admin/dashboard").status_code == 403
    assert client.get("/api/v1/dashboard").status_code == 403


def _alpha_shown(html: str) -> str:
    return html.split('id="alpha">', 1)[1].split("<", 1)[0]


def test_dashboard_and_quality_page_show_the_same_alpha(client, logged_in, db, project) -> None:
    one, two, three = (make_evaluator(db, project) for _ in range(3))
    for labels in ("aab", "aaa", "bba", "tta", "bb", "ab"):
        pr = f.make_pair(db, project, labels_required=3)
        for user, choice in zip((one, two, three), labels, strict=False):
            f.compare(db, pr, user, {"t": "tie"}.get(choice, choice))
    db.commit()
    logged_in("admin")
    dashboard_alpha = _alpha_shown(client.get(f"/admin/dashboard?project={project.id}").text)
    quality_alpha = _alpha_shown(client.get(f"/admin/quality?project={project.id}").text)
    assert dashboard_alpha == quality_alpha
    assert dashboard_alpha == f"{project_agreement(db, project.id).alpha:.3f}"
    assert dashboard_alpha not in ("—", "1.000", "0.000")
