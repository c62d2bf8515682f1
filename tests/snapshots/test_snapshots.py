"""Admin figures kept per project (app/snapshots.py): shown with their time, refreshed off the
request path after new labels, shared by every web process; the leaderboard's and the Loop
page's bootstrap run once per batch of new head-to-head votes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.annotators.stats import project_annotator_stats
from app.main import create_app
from app.models import AggregateSnapshot, Project, User, utcnow
from app.quality import service as quality_service
from app.quality.agreement import project_agreement
from app.quality.figures import QUALITY
from app.settings import Settings
from app.snapshots import Snapshots
from app.winrates import service as winrates_service
from tests import factories as f
from tests.conftest import login
from tests.factories import make_evaluator


def _settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def _app(settings: Settings, engine: Engine, factory: sessionmaker[Session]) -> FastAPI:
    application = create_app(settings, engine)
    application.state.sessionmaker = factory
    return application


@pytest.fixture
def background(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[TestClient, Snapshots]]:
    """An app that refreshes in the background; its thread is not started, so the test runs
    the queued refreshes itself (the tests share one database connection)."""
    monkeypatch.setattr(Snapshots, "_ensure_worker", lambda self: None)
    application = _app(_settings(settings, aggregates_background=True), engine, session_factory)
    with TestClient(application, base_url="http://testserver") as c:
        yield c, application.state.snapshots


def _label(db: Session, project: Project, people: list[User], choices: list[str]) -> None:
    """One pair per position of the strings: the i-th person's choice is choices[i][k]."""
    for k in range(len(choices[0])):
        pr = f.make_pair(db, project, labels_required=len(people))
        for person, row in zip(people, choices, strict=True):
            f.compare(db, pr, person, {"t": "tie"}.get(row[k], row[k]))


def _alpha(html: str) -> str:
    return html.split('id="alpha">', 1)[1].split("<", 1)[0]


def _as_of(html: str) -> str:
    return html.split('data-as-of="', 1)[1].split('"', 1)[0]


def _annotator_row(html: str, name: str) -> str:
    return html.split(f">{name}</a>", 1)[1].split("</tr>", 1)[0]


def test_stale_figures_are_shown_with_their_time_then_refreshed_off_the_request(
    background: tuple[TestClient, Snapshots],
    db: Session,
    project: Project,
    make_user: Callable[..., User],
    settings: Settings,
) -> None:
    client, snapshots = background
    one, two = make_evaluator(db, project), make_evaluator(db, project)
    _label(db, project, [one, two], ["aabba", "aabba"])  # full agreement
    db.commit()
    admin = make_user("admin")
    login(client, admin.username)
    url = f"/admin/quality?project={project.id}"

    first = client.get(url).text  # the first view computes the figures
    assert _alpha(first) == "1.000" and "as of" in first and "being counted" not in first
    assert snapshots.pending() == []

    _label(db, project, [one, two], ["abab", "baba"])  # four disagreements
    db.commit()
    stale = client.get(url)
    assert stale.status_code == 200
    # The previous figures with their time, and a refresh queued instead of computed here.
    assert _alpha(stale.text) == "1.000" and _as_of(stale.text) == _as_of(first)
    assert "newer labels have arrived and are being counted" in stale.text
    assert snapshots.pending() == [(project.id, "quality")]
    api = client.get(f"/api/v1/quality/agreement?project={project.id}").json()
    assert api["krippendorff_alpha"] == 1.0 and api["current"] is False

    assert snapshots.run_pending() == 1  # what the background thread does
    fresh = client.get(url).text
    expected = project_agreement(db, project.id)
    assert _alpha(fresh) == f"{expected.alpha:.3f}" != "1.000"
    assert _as_of(fresh) > _as_of(first) and "being counted" not in fresh
    stats = project_annotator_stats(db, project.id, settings)
    for person in (one, two):
        row = _annotator_row(fresh, person.username)
        assert f"<td>{stats[person.id].labels}</td>" in row  # 9 labels each
        assert f"{stats[person.id].agreement:.0%}" in row
    api = client.get(f"/api/v1/quality/agreement?project={project.id}").json()
    assert api["current"] is True and api["overlapped_pairs"] == expected.overlapped_pairs == 9
    assert api["pairwise_agreement"] == pytest.approx(expected.pairwise_agreement)
    assert api["cohen_kappas"][0]["kappa"] == pytest.approx(expected.kappas[0].kappa)
    dashboard = client.get(f"/admin/dashboard?project={project.id}").text
    assert _alpha(dashboard) == _alpha(fresh) and _as_of(dashboard) == _as_of(fresh)


def test_figures_are_stored_for_every_web_process(
    client: TestClient,
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, two = make_evaluator(db, project), make_evaluator(db, project)
    _label(db, project, [one, two], ["aab", "abb"])
    db.commit()
    admin, _ = logged_in("admin")
    first = client.get(f"/admin/quality?project={project.id}").text

    calls: list[int] = []
    compute = QUALITY.compute
    monkeypatch.setattr(QUALITY, "compute", lambda *a: calls.append(1) or compute(*a))
    other = _app(settings, engine, session_factory)  # another process, nothing in memory
    with TestClient(other, base_url="http://testserver") as second:
        login(second, admin.username)
        page = second.get(f"/admin/quality?project={project.id}").text
    assert calls == [] and _alpha(page) == _alpha(first) and _as_of(page) == _as_of(first)


def test_figures_wait_for_the_refresh_interval_but_not_after_a_gold_change(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    db: Session,
    project: Project,
    make_user: Callable[..., User],
) -> None:
    hourly = _settings(settings, aggregates_refresh_seconds=3600)
    application = _app(hourly, engine, session_factory)
    one, two = make_evaluator(db, project), make_evaluator(db, project)
    _label(db, project, [one, two], ["aab", "aab"])
    admin = make_user("admin")
    db.commit()
    with TestClient(application, base_url="http://testserver") as client:
        login(client, admin.username)
        url = f"/api/v1/quality/agreement?project={project.id}"
        assert client.get(url).json()["overlapped_pairs"] == 3
        _label(db, project, [one, two], ["a", "b"])
        db.commit()
        kept = client.get(url).json()
        assert kept["overlapped_pairs"] == 3 and kept["current"] is False  # not an hour old
        gold = f.make_pair(db, project)
        quality_service.mark_gold(db, gold, "a", admin.id)
        db.commit()
        fresh = client.get(url).json()
        assert fresh["overlapped_pairs"] == 4 and fresh["current"] is True


def test_a_refresh_leased_by_another_process_is_left_to_it(
    client: TestClient,
    db: Session,
    project: Project,
    logged_in: Callable[..., tuple[User, str]],
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, two = make_evaluator(db, project), make_evaluator(db, project)
    _label(db, project, [one, two], ["ab", "ab"])
    db.commit()
    logged_in("admin")
    client.get(f"/admin/quality?project={project.id}")
    where = (AggregateSnapshot.project_id == project.id, AggregateSnapshot.kind == "quality")
    db.execute(
        update(AggregateSnapshot).where(*where).values(refreshing_until=utcnow() + timedelta(1))
    )
    db.commit()
    snapshots = Snapshots(settings, lambda: session_factory)
    calls: list[int] = []
    monkeypatch.setattr(QUALITY, "compute", lambda *a: calls.append(1))
    assert snapshots.refresh(QUALITY, project.id) is False and calls == []
    db.execute(update(AggregateSnapshot).where(*where).values(refreshing_until=None))
    db.commit()
    monkeypatch.undo()
    assert snapshots.refresh(QUALITY, project.id) is True
    assert db.scalar(select(AggregateSnapshot.refreshing_until).where(*where)) is None


def test_the_background_thread_refreshes_queued_figures(
    settings: Settings,
    db: Session,
    project: Project,
    session_factory: sessionmaker[Session],
) -> None:
    one, two = make_evaluator(db, project), make_evaluator(db, project)
    _label(db, project, [one, two], ["ab", "ab"])
    snapshots = Snapshots(_settings(settings, aggregates_background=True), lambda: session_factory)
    first = snapshots.get(db, QUALITY, project)
    db.commit()
    _label(db, project, [one, two], ["a", "b"])
    db.commit()
    snapshots.request_refresh(QUALITY, project.id)
    snapshots.close(wait=120)  # the thread finishes what is queued, then stops
    refreshed = snapshots.get(db, QUALITY, project)
    assert refreshed.as_of > first.as_of and refreshed.current
    assert refreshed.value.agreement.overlapped_pairs == 3


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(winrates_service, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(winrates_service, name, counted)
    return calls


def test_leaderboard_bootstrap_runs_once_per_batch_of_new_votes(
    client: TestClient,
    db: Session,
    project: Project,
    make_user: Callable[..., User],
    logged_in: Callable[..., tuple[User, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judge = make_user("evaluator")
    v0, v1 = (
        f.make_version(db, project, 0, status="archived"),
        f.make_version(db, project, 1, status="active"),
    )
    f.judgements(db, project, judge, v1, v0, "a" * 12 + "b" * 4)
    db.commit()
    logged_in("ml")
    calls = _count_calls(monkeypatch, "rating_intervals")
    url = f"/api/v1/projects/{project.id}/leaderboard"
    board = client.get(url).json()
    assert board["comparisons"] == 16 and board["as_of"] and calls == [1]
    assert client.get(url).json() == board
    page = client.get(f"/training/leaderboard?project_id={project.id}")
    assert "Ratings as of" in page.text and calls == [1]  # no new votes: not recomputed

    v1.status = "archived"  # a status shows at once, without a new bootstrap
    db.commit()
    rows = {v["number"]: v["status"] for v in client.get(url).json()["versions"]}
    assert rows[1] == "archived" and calls == [1]
    f.judgements(db, project, judge, v1, v1, "ab", kind="live")  # labels, but no votes
    db.commit()
    assert client.get(url).json()["current"] is True and calls == [1]

    f.judgements(db, project, judge, v1, v0, "bbbb")  # a new batch of votes
    db.commit()
    after = client.get(url).json()
    assert after["comparisons"] == 20 and calls == [1, 1]
    assert after["versions"][1]["rating"] < board["versions"][1]["rating"]
    client.get(url)
    assert calls == [1, 1]


def test_loop_page_win_rates_bootstrap_once_per_batch_of_new_votes(
    client: TestClient,
    db: Session,
    project: Project,
    make_user: Callable[..., User],
    logged_in: Callable[..., tuple[User, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judge = make_user("evaluator")
    v0 = f.make_version(db, project, 0, status="archived")
    v1 = f.make_version(db, project, 1, status="active")
    v1.parent_id = v0.id
    f.judgements(db, project, judge, v1, v0, "a" * 16 + "b" * 4)
    db.commit()
    logged_in("ml")
    calls = _count_calls(monkeypatch, "probability_intervals")
    url = f"/projects/{project.id}/loop"
    assert client.get(url).status_code == 200 and calls == [1]
    client.get(url)
    client.get(f"{url}?part=versions", headers={"HX-Request": "true"})
    assert calls == [1]
    f.judgements(db, project, judge, v1, v0, "b" * 10)
    db.commit()
    row = client.get(url).text.split('data-version="1"', 1)[1].split("</tr>", 1)[0]
    assert calls == [1, 1]
    # 16 of 30 now: the modelled chance moved down from about 80 %.
    shown = row.split('class="vs-previous">', 1)[1].split("</td>", 1)[0]
    assert any(f"<strong>{p}%</strong>" in shown for p in range(50, 60))
