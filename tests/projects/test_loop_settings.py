"""A project's retraining schedule and promotion rule: shown and set on its page and the API."""

from __future__ import annotations

from app.domain.project_settings import loop_settings_of
from app.models import AuditEvent, Project


def test_page_shows_and_saves_the_schedule_and_promotion(
    client, logged_in, db, project, settings
) -> None:
    _, csrf = logged_in("admin")
    page = client.get(f"/admin/projects/{project.id}")
    assert page.status_code == 200
    assert "automatic retraining off (the deployment's default)" in page.text

    r = client.post(
        f"/admin/projects/{project.id}/loop",
        data={
            "csrf_token": csrf,
            "retrain_every_labels": "50",
            "retrain_min_minutes": "10",
            "train_on_simulated": "true",
            "promotion": "human_trial",
            "trial_share": "0.3",
            "trial_votes": "20",
            "trial_max_votes": "60",
            "recipe": "tiny",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    loop = loop_settings_of(db.get(Project, project.id))
    assert loop.recipe == "tiny"
    assert (loop.retrain_every_labels, loop.retrain_min_minutes) == (50, 10)
    assert (loop.promotion, loop.trial_share, loop.trial_votes, loop.trial_max_votes) == (
        "human_trial",
        0.3,
        20,
        60,
    )
    page = client.get(f"/admin/projects/{project.id}")
    assert (
        "Now: retrains every 50 new labels, at most every 10 min, labels of simulated "
        "evaluators included." in page.text
    )
    assert 'value="human_trial" selected' in page.text
    assert '<option value="tiny" selected>' in page.text
    assert 'name="train_on_simulated" value="true" checked' in page.text
    assert db.query(AuditEvent).filter_by(action="project.loop_updated").count() == 1

    # An unticked box (the browser sends nothing) turns it off again.
    r = client.post(
        f"/admin/projects/{project.id}/loop",
        data={"csrf_token": csrf, "retrain_every_labels": "50"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert loop_settings_of(db.get(Project, project.id)).train_on_simulated is False


def test_bad_values_are_refused_with_a_message_and_change_nothing(
    client, logged_in, db, project
) -> None:
    _, csrf = logged_in("admin")
    for data, message in [
        ({"retrain_every_labels": "lots"}, "Retrain every: a whole number"),
        ({"trial_votes": "40", "trial_max_votes": "20"}, "must be at least trial_votes"),
        ({"promotion": "vote"}, "promotion"),
        ({"trial_share": "0.9"}, "trial_share"),
    ]:
        r = client.post(f"/admin/projects/{project.id}/loop", data={"csrf_token": csrf, **data})
        assert r.status_code == 422 and message in r.text, (data, r.text[-500:])
    db.expire_all()
    assert loop_settings_of(db.get(Project, project.id)) == loop_settings_of(Project(settings={}))


def test_api_reads_and_replaces_the_loop_settings(client, db, project, make_user) -> None:
    from app.auth.service import create_api_token

    admin = make_user("admin")
    headers = {"Authorization": f"Bearer {create_api_token(db, admin, 'loop')[0]}"}
    db.commit()
    r = client.get(f"/api/v1/projects/{project.id}/loop", headers=headers)
    assert r.status_code == 200
    assert r.json()["promotion"] == "auto" and r.json()["schedule_every_labels"] == 0
    assert r.json()["train_on_simulated"] is False

    body = {
        "retrain_every_labels": 25,
        "promotion": "human_trial",
        "trial_votes": 10,
        "train_on_simulated": True,
    }
    r = client.put(f"/api/v1/projects/{project.id}/loop", json=body, headers=headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["schedule_every_labels"] == 25 and out["retrain_min_minutes"] is None
    assert out["schedule_min_minutes"] == 30  # the deployment's RETRAIN_MIN_INTERVAL_MINUTES
    assert out["trial_votes"] == 10 and out["trial_max_votes"] == 90
    assert out["train_on_simulated"] is True
    listed = client.get("/api/v1/projects", headers=headers).json()
    assert listed[0]["loop"]["promotion"] == "human_trial"

    r = client.put(f"/api/v1/projects/{project.id}/loop", json={"trial_vots": 3}, headers=headers)
    assert r.status_code == 422
    r = client.put(
        f"/api/v1/projects/{project.id}/loop",
        json={"trial_votes": 50, "trial_max_votes": 40},
        headers=headers,
    )
    assert r.status_code == 422 and "trial_max_votes" in r.text
    assert (
        client.get(f"/api/v1/projects/{project.id}/loop", headers=headers).json()["trial_votes"]
        == 10
    )


def test_evaluators_and_ml_staff_may_not_change_them(client, db, project, make_user) -> None:
    from app.auth.service import create_api_token

    for role in ("evaluator", "ml"):
        user = make_user(role)
        headers = {"Authorization": f"Bearer {create_api_token(db, user, role)[0]}"}
        db.commit()
        r = client.put(
            f"/api/v1/projects/{project.id}/loop", json={"promotion": "auto"}, headers=headers
        )
        assert r.status_code == 403


def test_runs_enqueued_without_a_recipe_use_the_projects_recipe(db, project, settings) -> None:
    from app.domain import jobs
    from app.domain.project_settings import update_settings

    assert jobs.enqueue(db, settings, project.id).recipe == settings.training_default_recipe
    db.rollback()
    update_settings(project, recipe="tiny")
    db.flush()
    assert jobs.enqueue(db, settings, project.id, trigger="schedule").recipe == "tiny"
