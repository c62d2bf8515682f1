"""The leaderboard API and page on SQLite and Postgres, from judgements inserted directly."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Project
from tests import factories as f


def _board(client: TestClient, project: Project, **params: str) -> dict:
    response = client.get(f"/api/v1/projects/{project.id}/leaderboard", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_leaderboard_from_head_to_head_judgements(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    judge = make_user("evaluator")
    v0, v1, v2 = (f.make_version(db, project, n, status="archived") for n in range(3))
    f.make_version(db, project, 3, status="candidate")  # never compared
    # v1 vs v0: completion a is v1's; 16 wins, 2 losses, 2 ties, 3 both bad (left out).
    f.judgements(db, project, judge, v1, v0, "a" * 16 + "b" * 2 + "tt" + "xxx")
    # v0 vs v2 with v0 as completion a: v2 wins 18 of 20.
    f.judgements(db, project, judge, v0, v2, "b" * 18 + "a" * 2)
    # Live pairs (same version twice) never count, whatever their choice.
    f.judgements(db, project, judge, v2, v2, "aaaa", kind="live")
    db.commit()
    logged_in("ml")

    board = _board(client, project)
    assert board["comparisons"] == 40
    assert board["both_bad_excluded"] == 3
    assert board["reference_number"] == 0
    assert board["bootstrap_samples"] > 0
    rows = {v["number"]: v for v in board["versions"]}
    assert [v["number"] for v in board["versions"]] == [0, 1, 2, 3]
    assert rows[0]["rating"] == 0.0 and rows[0]["comparisons"] == 40
    assert rows[3]["rating"] is None and rows[3]["comparisons"] == 0
    for n in (1, 2):
        row = rows[n]
        assert row["rating_low"] <= row["rating"] <= row["rating_high"]
        assert row["win_probability_low"] > 0.5  # decisive: the interval excludes 50 %
    direct = rows[1]["vs_reference"]
    assert direct["comparisons"] == 20
    assert direct["score"] == 17.0  # 16 wins + 2 ties × ½
    assert direct["rate"] == 0.85
    assert direct["low"] < 0.85 < direct["high"] and direct["low"] > 0.5
    assert rows[2]["vs_reference"]["rate"] == 0.9
    # Raw matrix in version order, ties half.
    assert board["win_rates"][1][0] == 0.85
    assert board["win_rates"][0][1] == 0.15
    assert board["win_rates"][1][2] is None  # v1 and v2 never met
    assert board["counts"][0][2] == 20 and board["counts"][2][0] == 20


def test_evaluator_filter_separates_simulated_accounts(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    person, robot = make_user("evaluator"), make_user("evaluator")
    robot.simulated = True
    v0, v1 = (
        f.make_version(db, project, 0, status="archived"),
        f.make_version(db, project, 1, status="archived"),
    )
    f.judgements(db, project, person, v1, v0, "aab")
    f.judgements(db, project, robot, v1, v0, "bbbbb")
    db.commit()
    logged_in("admin")
    assert _board(client, project)["comparisons"] == 8
    assert _board(client, project, evaluators="human")["comparisons"] == 3
    simulated = _board(client, project, evaluators="simulated")
    assert simulated["comparisons"] == 5
    assert simulated["versions"][1]["vs_reference"]["rate"] == 0.0
    bad = client.get(f"/api/v1/projects/{project.id}/leaderboard", params={"evaluators": "bots"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "evaluators"


def test_empty_project_has_versions_but_no_ratings(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    f.make_version(db, project, 0, status="active")
    db.commit()
    logged_in("ml")
    board = _board(client, project)
    assert board["comparisons"] == 0 and board["reference_number"] is None
    assert board["versions"][0]["rating"] is None
    page = client.get("/training/leaderboard")
    assert page.status_code == 200
    assert "No head-to-head judgements yet" in page.text


def test_projects_the_caller_cannot_see_are_404(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    other = Project(name="secret-project")
    db.add(other)
    db.commit()
    logged_in("ml")  # a member of the default project only
    assert client.get(f"/api/v1/projects/{other.id}/leaderboard").status_code == 404
    assert client.get(f"/training/leaderboard?project_id={other.id}").status_code == 404
    assert client.get(f"/api/v1/projects/{project.id}/leaderboard").status_code == 200


def test_evaluators_may_not_read_the_leaderboard(
    client: TestClient, project: Project, logged_in
) -> None:
    logged_in("evaluator")
    assert client.get(f"/api/v1/projects/{project.id}/leaderboard").status_code == 403
    assert client.get("/training/leaderboard").status_code == 403


def test_page_shows_table_matrix_and_chart_without_inline_styles(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    judge = make_user("evaluator")
    v0, v1 = (
        f.make_version(db, project, 0, status="archived"),
        f.make_version(db, project, 1, status="active"),
    )
    f.judgements(db, project, judge, v0, v1, "bbbbbbbbba")
    db.commit()
    logged_in("ml")
    page = client.get(f"/training/leaderboard?project_id={project.id}")
    assert page.status_code == 200
    html = page.text
    assert "<svg" in html and html.count('class="point"') == 2
    assert "v1: 8" in html or "v1: 9" in html  # the point's tooltip: P(beats v0) ≈ 85–90 %
    assert "90%" in html  # direct win-rate of v1 against v0
    assert "style=" not in html
    fragment = client.get("/training/leaderboard", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="board">')
