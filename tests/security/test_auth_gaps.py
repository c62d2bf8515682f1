"""Auth points tests/auth/test_auth.py leaves open: the per-IP login limit, and API tokens that
carry exactly their owner's current roles (never more, never after a role is taken away)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.service import create_api_token, set_roles
from tests.conftest import CSRF_RE, PASSWORD


def test_login_rate_limited_per_ip_across_accounts(client: TestClient, make_user, settings) -> None:
    """Spraying one password over many accounts from one address is stopped too."""
    victim = make_user("evaluator")
    token = CSRF_RE.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
    for i in range(settings.login_attempts_per_ip):
        client.post(
            "/login", data={"username": f"nobody{i}", "password": "guess1234", "csrf_token": token}
        )
    r = client.post(
        "/login", data={"username": victim.username, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429 and "Too many failed attempts" in r.text


def test_api_token_carries_only_its_owners_current_roles(
    client: TestClient, db: Session, make_user
) -> None:
    user = make_user("evaluator", "admin")
    secret, _ = create_api_token(db, user, "script")
    db.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/annotators", headers=auth).status_code == 200
    assert client.get("/api/v1/training-runs", headers=auth).status_code == 403  # not ml

    set_roles(db, user, {"evaluator"}, None)
    db.commit()
    r = client.get("/api/v1/annotators", headers=auth)
    assert r.status_code == 403, "a token kept a role its owner lost"
    assert client.get("/api/v1/pairs/next", headers=auth).status_code == 200


def test_ids_and_owners_cannot_be_mass_assigned_through_json(
    client: TestClient, db: Session, make_user, project
) -> None:
    from app.models import Project, Prompt
    from tests.factories import make_project, make_prompt

    other = make_project(db)
    prompt = make_prompt(db, project)
    secret, _ = create_api_token(db, make_user("admin"), "script")
    db.commit()
    auth = {"Authorization": f"Bearer {secret}"}
    r = client.patch(
        f"/api/v1/prompts/{prompt.id}",
        json={"priority": 3, "id": prompt.id + 1000, "project_id": other.id},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    r = client.put(
        f"/api/v1/projects/{project.id}",
        json={"name": "renamed", "id": other.id + 1000, "guidelines_version": 99},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    db.expire_all()
    stored = db.get_one(Prompt, prompt.id)
    assert stored.priority == 3 and stored.project_id == project.id
    renamed = db.get_one(Project, project.id)
    assert renamed.name == "renamed" and renamed.guidelines_version == 1
    assert db.get(Project, other.id + 1000) is None
