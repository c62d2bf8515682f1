"""Training runs and policy versions through the API and the pages: validation, 404, 409."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import versions
from app.models import PolicyVersion, Project, TrainingRun, User
from app.settings import Settings
from app.training.service import TrainingInputError, request_run
from tests.factories.training import version_zero


def test_enqueue_list_get_and_cancel(client: TestClient, logged_in, project: Project) -> None:
    _, csrf = logged_in("ml")
    h = {"X-CSRF-Token": csrf}
    r = client.post(
        "/api/v1/training-runs",
        json={"recipe": "tiny", "overrides": {"policy.lr": 1e-4}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "queued" and run["config"]["overrides"] == {"policy.lr": 1e-4}

    again = client.post("/api/v1/training-runs", json={"recipe": "tiny"}, headers=h)
    assert again.status_code == 409
    assert "already queued" in again.json()["errors"][0]["message"]

    listed = client.get("/api/v1/training-runs").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run["id"]
    assert client.get(f"/api/v1/training-runs/{run['id']}").json()["recipe"] == "tiny"

    cancelled = client.post(f"/api/v1/training-runs/{run['id']}/cancel", headers=h)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = client.post(f"/api/v1/training-runs/{run['id']}/cancel", headers=h)
    assert twice.status_code == 409


def test_validation_errors_name_the_field(client: TestClient, logged_in, project: Project) -> None:
    _, csrf = logged_in("ml")
    h = {"X-CSRF-Token": csrf}
    cases = [
        ({"recipe": "nope"}, "recipe", "Unknown recipe 'nope'"),
        ({"recipe": "tiny", "overrides": {"policy.lrr": 1}}, "overrides", "policy.lrr"),
        ({"kind": "everything"}, "kind", "full"),
        ({"project_id": 999999}, "project_id", "No project"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ]
    for body, field, message in cases:
        r = client.post("/api/v1/training-runs", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        detail = r.json()["errors"][0]
        assert detail["field"] == field and message in detail["message"], detail
    assert client.get("/api/v1/training-runs").json()["total"] == 0  # nothing stored


def test_other_projects_are_invisible(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    other = Project(name="secret")
    db.add(other)
    db.flush()
    hidden = TrainingRun(project_id=other.id, kind="full", recipe="tiny", status="queued")
    db.add(hidden)
    db.commit()
    _, csrf = logged_in("ml")
    assert client.get(f"/api/v1/training-runs/{hidden.id}").status_code == 404
    assert client.get(f"/training/runs/{hidden.id}").status_code == 404
    r = client.post(f"/api/v1/training-runs/{hidden.id}/cancel", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404


def test_pages_enqueue_show_and_refuse_bad_overrides(
    client: TestClient, logged_in, project: Project
) -> None:
    _, csrf = logged_in("ml")
    bad = client.post(
        "/training/runs",
        data={"csrf_token": csrf, "project_id": project.id, "recipe": "tiny", "overrides": "lr"},
    )
    assert bad.status_code == 422 and "must look like key=value" in bad.text
    assert "lr</textarea>" in bad.text  # what was typed is kept
    ok = client.post(
        "/training/runs",
        data={"csrf_token": csrf, "project_id": project.id, "recipe": "tiny", "kind": "reward"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = client.get(ok.headers["location"])
    assert page.status_code == 200 and 'id="run-progress"' in page.text
    assert 'hx-trigger="every 5s"' in page.text  # a queued run polls its fragment, slowly
    fragment = client.get(ok.headers["location"], headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="run-live"')
    assert "<html" not in fragment.text


def test_run_page_draws_curves_and_escapes_the_log(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    run = TrainingRun(
        project_id=project.id,
        kind="full",
        recipe="tiny",
        status="succeeded",
        progress=1.0,
        log="<script>alert(1)</script>",
        metrics={"curves": {"reward:loss": [[1, 0.7], [2, 0.5], [3, 0.4]]}, "data": {"train": 9}},
    )
    db.add(run)
    db.commit()
    logged_in("ml")
    page = client.get(f"/training/runs/{run.id}")
    assert "<svg" in page.text and "reward model · loss" in page.text and "<polyline" in page.text
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text
    assert "hx-trigger=" not in page.text  # finished runs stop polling
    assert " style=" not in page.text


def test_run_page_polls_at_the_trainers_logging_rate(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    run = TrainingRun(
        project_id=project.id, kind="full", recipe="tiny", status="running", progress=0.3,
        metrics={"report_seconds": 3.4},
    )  # fmt: skip
    db.add(run)
    db.commit()
    logged_in("ml")
    assert 'hx-trigger="every 4s"' in client.get(f"/training/runs/{run.id}").text
    run.metrics = {"report_seconds": 0.05}  # fast steps: no faster than once a second
    db.commit()
    assert 'hx-trigger="every 1s"' in client.get(f"/training/runs/{run.id}").text
    run.metrics = {}  # no logging step yet (loading, data): a short default
    db.commit()
    assert 'hx-trigger="every 2s"' in client.get(f"/training/runs/{run.id}").text


def test_run_page_shows_evaluation_examples_as_prompt_and_answers(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    examples = [
        {
            "prompt": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Name a <b>colour</b>."},
            ],
            "new": "**Blue.**",
            "ref": "I think the colour is",
        },
        {"prompt": "Older runs stored plain text", "new": "Yes.", "ref": "No."},
    ]
    run = TrainingRun(
        project_id=project.id, kind="full", recipe="tiny", status="succeeded", progress=1.0,
        metrics={"evaluation": {"kl": 0.1, "examples": examples}},
    )  # fmt: skip
    db.add(run)
    db.commit()
    logged_in("ml")
    html = client.get(f"/training/runs/{run.id}").text
    section = html.split('id="eval-examples"')[1].split('id="run-log"')[0]
    assert "[{" not in html and "{&#39;role&#39;" not in html  # no raw Python list
    assert 'class="role">system</span> Be brief.' in section
    assert "Name a &lt;b&gt;colour&lt;/b&gt;." in section  # prompt text escaped
    assert "<strong>Blue.</strong>" in section and "I think the colour is" in section
    assert 'class="role">user</span> Older runs stored plain text' in section


def test_promote_and_roll_back_through_the_api(
    client: TestClient,
    logged_in,
    db: Session,
    project: Project,
    tmp_path: Path,
    tiny_policy_dir: Path,
    make_user: Callable[..., User],
) -> None:
    v0 = version_zero(db, project, tmp_path, tiny_policy_dir)
    v1 = versions.register_candidate(db, project.id, 77, 1, "projects/1/policy/v1", "tiny", {})
    db.commit()
    _, csrf = logged_in("ml")
    h = {"X-CSRF-Token": csrf}
    listed = client.get("/api/v1/policy-versions").json()
    assert [(v["number"], v["status"]) for v in listed] == [(1, "candidate"), (0, "active")]
    assert client.post(f"/api/v1/policy-versions/{v1.id}/promote", headers=h).json()["status"] == (
        "active"
    )
    r = client.post(f"/api/v1/policy-versions/{v1.id}/promote", headers=h)
    assert r.status_code == 409
    page = client.get("/training/versions")
    assert "Roll back to v0" in page.text
    back = client.post(
        f"/training/versions/{v0.id}/promote", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert back.status_code == 303
    db.expire_all()
    assert db.get(PolicyVersion, v0.id).status == "active"  # type: ignore[union-attr]
    assert client.post("/api/v1/policy-versions/999999/promote", headers=h).status_code == 404


def test_override_models_outside_the_store_are_refused(
    client: TestClient, logged_in, db: Session, settings: Settings, project: Project
) -> None:
    _, csrf = logged_in("ml")
    h = {"X-CSRF-Token": csrf}
    cases = [
        ({"reward.base_model": "/etc/passwd"}, "reward.base_model: '/etc/passwd' is not allowed"),
        (
            {"reward.base_model": "http://169.254.169.254/latest/meta-data/"},
            "reward.base_model: URLs are refused",
        ),
        ({"policy.steps": 10**12}, "policy.steps: must be at most 100000"),
        ({f"policy.k{i}": 1 for i in range(51)}, "At most 50 overrides"),
    ]
    for overrides, message in cases:
        r = client.post(
            "/api/v1/training-runs", json={"recipe": "tiny", "overrides": overrides}, headers=h
        )
        assert r.status_code == 422, (overrides, r.text)
        detail = r.json()["errors"][0]
        assert detail["field"] == "overrides" and message in detail["message"], detail
    page = client.post(
        "/training/runs",
        data={
            "csrf_token": csrf,
            "project_id": project.id,
            "recipe": "tiny",
            "overrides": "reward.base_model=http://169.254.169.254/",
        },
    )
    assert page.status_code == 422 and "URLs are refused" in page.text
    assert client.get("/api/v1/training-runs").json()["total"] == 0  # nothing stored
    assert db.scalar(select(func.count()).select_from(TrainingRun)) == 0

    inside = settings.resolved_model_dir / "bases" / "scorer"
    inside.mkdir(parents=True)
    ok = client.post(
        "/api/v1/training-runs",
        json={"recipe": "tiny", "overrides": {"reward.base_model": str(inside)}},
        headers=h,
    )
    assert ok.status_code == 201, ok.text


def test_allow_list_setting_admits_a_hub_id(
    db: Session, settings: Settings, project: Project
) -> None:
    hub = {"reward.base_model": "org/scorer"}
    with pytest.raises(TrainingInputError, match="'org/scorer' is not allowed"):
        request_run(db, settings, project.id, None, recipe="tiny", overrides=hub)
    allowing = settings.model_copy(update={"training_model_allowlist": "org/other, org/scorer"})
    run = request_run(db, allowing, project.id, None, recipe="tiny", overrides=hub)
    assert run.config["overrides"] == hub


def test_run_page_shows_the_sft_stage(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    run = TrainingRun(
        project_id=project.id,
        kind="full",
        recipe="tiny",
        status="succeeded",
        progress=1.0,
        config={"demonstration_watermark": 7},
        metrics={
            "curves": {"sft:loss": [[1, 2.5], [2, 1.5]]},
            "sft": {"steps": 2, "demonstrations": 5, "loss_curve": [[1, 2.5]]},
        },
    )
    db.add(run)
    db.commit()
    logged_in("ml")
    page = client.get(f"/training/runs/{run.id}").text
    assert 'id="run-sft"' in page and "up to #7" in page
    assert "supervised fine-tuning · loss" in page


def test_run_page_names_the_runs_tracking_boards(
    client: TestClient, logged_in, db: Session, project: Project
) -> None:
    tracked = {"resolved": {"report_to": ["tensorboard", "mlflow"]}}
    run = TrainingRun(
        project_id=project.id, kind="full", recipe="tiny", status="running", progress=0.3,
        config=tracked, metrics={},
    )  # fmt: skip
    quiet = TrainingRun(
        project_id=project.id, kind="full", recipe="tiny", status="succeeded", progress=1.0,
        config={"resolved": {"report_to": []}}, metrics={},
    )  # fmt: skip
    db.add_all([run, quiet])
    db.commit()
    logged_in("ml")
    page = client.get(f"/training/runs/{run.id}").text
    assert "Experiment tracking" in page
    assert f"run folder <code>{project.id}/runs/run{run.id}/logs</code>" in page
    assert f"projects/{project.id}/runs/run{run.id}/logs</code>)" in page  # tensorboard --logdir
    assert f"mlflow: runs named <code>pairwise-p{project.id}-run{run.id}-&lt;stage&gt;" in page
    assert "Experiment tracking" not in client.get(f"/training/runs/{quiet.id}").text
