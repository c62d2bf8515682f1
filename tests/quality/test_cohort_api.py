"""Annotator cohort tags through the API, and every project's figures refreshed on a change."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent
from tests import factories as f
from tests.factories import make_project


def test_admins_read_and_replace_an_annotators_cohorts_audited(
    client, logged_in, db, make_user
) -> None:
    annotator = make_user("evaluator")
    url = f"/api/v1/annotators/{annotator.id}/cohorts"
    _, csrf = logged_in("evaluator")
    assert client.get(url).status_code == 403
    assert client.put(url, json={"tags": {}}, headers={"X-CSRF-Token": csrf}).status_code == 403
    client.cookies.clear()

    admin, csrf = logged_in("admin")
    h = {"X-CSRF-Token": csrf}
    r = client.get(url)
    assert r.status_code == 200 and r.json() == {"user_id": annotator.id, "tags": {}}
    body = {"tags": {"Language": " de ", "region": "EU"}}
    assert client.put(url, json=body).status_code == 403  # a cookie write needs the token
    r = client.put(url, json=body, headers=h)
    assert r.status_code == 200 and r.json()["tags"] == {"language": "de", "region": "EU"}
    assert client.get(url).json()["tags"] == {"language": "de", "region": "EU"}
    page = client.get(f"/admin/annotators/{annotator.id}")
    assert "language = de" in page.text

    # The whole set is replaced: region left out goes, language changes.
    r = client.put(url, json={"tags": {"language": "fr", "expertise": ""}}, headers=h)
    assert r.status_code == 200 and r.json()["tags"] == {"language": "fr"}
    db.expire_all()
    events = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "annotator.tagged", AuditEvent.target == f"user:{annotator.id}")
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.actor_id, e.details) for e in events] == [
        (admin.id, {"dimension": "language", "value": "de"}),
        (admin.id, {"dimension": "region", "value": "EU"}),
        (admin.id, {"dimension": "language", "value": "fr"}),
        (admin.id, {"dimension": "region", "value": ""}),
    ]

    r = client.put(url, json={"tags": {"x" * 41: "y"}}, headers=h)
    assert r.status_code == 422 and "dimension" in r.json()["detail"]
    assert client.get(url).json()["tags"] == {"language": "fr"}  # nothing written
    assert client.get("/api/v1/annotators/999999/cohorts").status_code == 404


def test_a_cohort_change_refreshes_every_projects_figures(
    client, logged_in, db, project, make_user
) -> None:
    other = make_project(db, name="second project")
    annotator = make_user("evaluator")
    for p in (project, other):
        for _ in range(3):
            f.compare(
                db,
                f.make_pair(db, p, text_a="short", text_b="a much longer answer"),
                annotator,
                "b",
            )
    db.commit()
    _, csrf = logged_in("admin")
    for p in (project, other):  # the figures are computed and kept, without cohorts
        assert "No cohorts yet" in client.get(f"/admin/quality?project={p.id}").text

    # Tagged from the first project's annotator page: the second's figures change too.
    r = client.post(
        "/admin/quality/cohorts",
        data={
            "csrf_token": csrf,
            "user_id": annotator.id,
            "dimension": "language",
            "value": "de",
            "project": project.id,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    for p in (project, other):
        page = client.get(f"/admin/quality?project={p.id}").text
        assert 'id="cohorts-language"' in page and 'data-cohort="de"' in page, p.name

    # Through the API likewise.
    url = f"/api/v1/annotators/{annotator.id}/cohorts"
    r = client.put(url, json={"tags": {"language": "en"}}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    for p in (project, other):
        page = client.get(f"/admin/quality?project={p.id}").text
        assert 'data-cohort="en"' in page and 'data-cohort="de"' not in page, p.name
