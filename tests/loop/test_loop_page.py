"""The Loop page: labels towards the next run, the run in progress, versions with human
win-rates and reward-model accuracy; the evaluator's strip; the runs page's overlay."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.domain.preferences import current_watermark
from app.domain.recipe import load_recipe
from app.models import Project, RewardModel, TrainingRun, utcnow
from app.settings import Settings
from tests import factories as f


def _run(db: Session, project: Project, **fields: object) -> TrainingRun:
    run = TrainingRun(project_id=project.id, kind="full", recipe="cpu-small", **fields)
    db.add(run)
    db.flush()
    return run


def test_loop_page_shows_the_promoted_version_its_win_rate_and_the_labels_to_go(
    client: TestClient, db: Session, project: Project, make_user, logged_in, settings: Settings
) -> None:
    judge = make_user("evaluator")
    v0 = f.make_version(db, project, 0, status="archived")
    v1 = f.make_version(db, project, 1, status="active")
    v1.parent_id = v0.id
    v1.promoted_at = utcnow()
    f.judgements(db, project, judge, v1, v0, "a" * 16 + "b" * 4)
    reward = RewardModel(
        project_id=project.id, checkpoint_uri="rm1", base_model="t", metrics={"val_accuracy": 0.75}
    )
    db.add(reward)
    db.flush()
    trained = _run(
        db,
        project,
        status="succeeded",
        watermark_comparison_id=current_watermark(db, project.id),
        reward_model_id=reward.id,
        policy_version_id=v1.id,
    )
    v1.training_run_id = trained.id
    f.judgements(db, project, judge, v1, v1, "abab" + "aab", kind="live")  # 7 new labels
    started = utcnow() - timedelta(minutes=10)
    _run(db, project, status="running", stage="reward", progress=0.25, started_at=started)
    db.commit()

    logged_in("ml")
    page = client.get(f"/projects/{project.id}/loop")
    assert page.status_code == 200
    html = page.text
    threshold = load_recipe(settings.training_default_recipe).min_comparisons
    assert 'id="labels-since">7<' in html and f'id="labels-threshold">{threshold}<' in html
    assert f"{threshold - 7} more labels" in html
    # The run in progress: stage, bar and time left (10 min for a quarter: about 30 min).
    assert 'id="run-now-stage">reward<' in html and 'value="0.250"' in html
    assert "about 30 min left" in html
    assert 'id="active-version">v1<' in html
    row = html.split('data-version="1"', 1)[1].split("</tr>", 1)[0]
    # Bradley–Terry: 16 of 20 → about 80 % against its parent v0 (which is also v0).
    vs_previous = row.split('class="vs-previous">', 1)[1].split("</td>", 1)[0]
    assert any(f"<strong>{p}%</strong>" in vs_previous for p in (78, 79, 80, 81, 82))
    assert "–" in vs_previous  # with its interval
    assert row.split('class="vs-zero">', 1)[1].split("</td>", 1)[0] == vs_previous
    assert "75.0%" in row.split('class="reward-accuracy">', 1)[1]
    assert "from v0" in row
    # The curve: win-rate against labels collected, a line with its interval band.
    curve = html.split('id="win-rate-curve"', 1)[1]
    assert "<polyline" in curve and "<polygon" in curve


def test_a_poll_without_changes_gets_204_and_a_change_gets_the_fragment(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    judge = make_user("evaluator")
    v0 = f.make_version(db, project, 0, status="active")
    db.commit()
    logged_in("admin")
    page = client.get(f"/projects/{project.id}/loop").text
    since = page.split("part=live&amp;since=", 1)[1].split('"', 1)[0]
    hx = {"HX-Request": "true"}
    url = f"/projects/{project.id}/loop?part=live&since={since}"
    assert client.get(url, headers=hx).status_code == 204
    f.judgements(db, project, judge, v0, v0, "a", kind="live")
    db.commit()
    fragment = client.get(url, headers=hx)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="loop-live"')
    assert 'id="labels-since">1<' in fragment.text and "loop-versions" not in fragment.text


def test_roles_evaluators_refused_non_members_404(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    other = Project(name="someone else's")
    db.add(other)
    db.commit()
    logged_in("evaluator")
    assert client.get(f"/projects/{project.id}/loop").status_code == 403
    assert client.get("/loop", follow_redirects=False).status_code == 403
    client.cookies.clear()
    logged_in("ml")
    assert client.get(f"/projects/{other.id}/loop").status_code == 404
    assert client.get("/projects/999999/loop").status_code == 404
    home = client.get("/loop", follow_redirects=False)
    assert home.headers["location"] == f"/projects/{project.id}/loop"
    assert 'href="/loop"' in client.get("/").text


def test_labelling_page_strip_names_the_version_your_labels_trained(
    client: TestClient, db: Session, project: Project, make_user, logged_in
) -> None:
    v0 = f.make_version(db, project, 0, status="archived")
    db.commit()
    me, _ = logged_in("evaluator")
    f.judgements(db, project, me, v0, v0, "ab", kind="live")
    trained = _run(
        db, project, status="succeeded", watermark_comparison_id=current_watermark(db, project.id)
    )
    v1 = f.make_version(db, project, 1, status="active")
    v1.training_run_id = trained.id
    v1.promoted_at = utcnow().replace(hour=14, minute=2)
    db.commit()
    strip = client.get(f"/label?project={project.id}").text.split('id="loop-strip">', 1)[1]
    assert strip.startswith("Your labels trained v1, live since 14:02 UTC.")

    client.cookies.clear()
    logged_in("evaluator")  # labelled nothing yet
    strip = client.get(f"/label?project={project.id}").text.split('id="loop-strip">', 1)[1]
    assert strip.startswith("v1 is live, live since 14:02 UTC; your labels will train the next")


def test_runs_page_overlays_one_series_per_chosen_run(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    curves = {
        "reward:loss": [[1, 0.7], [2, 0.6], [3, 0.5]],
        "policy:rewards/reward_model/mean": [[1, 0.1], [2, 0.3]],
    }
    first = _run(db, project, status="succeeded", metrics={"curves": curves})
    second = _run(
        db, project, status="succeeded", metrics={"curves": {"reward:loss": [[1, 0.9], [4, 0.4]]}}
    )
    unchosen = _run(db, project, status="failed", metrics={"curves": curves})
    other = Project(name="not mine")
    db.add(other)
    db.flush()
    foreign = _run(db, other, status="succeeded", metrics={"curves": curves})
    db.commit()
    logged_in("ml")
    chosen = "&".join(f"compare={r.id}" for r in (first, second, foreign))
    url = f"/training/runs?project={project.id}&{chosen}"
    html = client.get(url).text
    overlay = html.split('id="overlay-charts"', 1)[1].split("</section>", 1)[0]
    charts = overlay.split("<svg")[1:]
    assert len(charts) == 2
    loss = next(c for c in charts if "reward model · loss" in c)
    assert loss.count('class="series"') == 2
    assert f'data-series="#{first.id}"' in loss and f'data-series="#{second.id}"' in loss
    assert f"#{unchosen.id}" not in overlay and f"#{foreign.id}" not in overlay
    reward = next(c for c in charts if "policy · reward" in c)
    assert reward.count('class="series"') == 1  # only the first run has a reward curve
    assert f'value="{first.id}" aria-label="compare run #{first.id}" checked' in html
