"""Hardening beyond the probe's findings: caching, the metrics token, forwarded-for headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_api_token
from app.main import create_app
from app.settings import Settings, SettingsError


def test_pages_and_api_answers_are_not_stored_but_static_files_may_be(
    client: TestClient, db: Session, logged_in, make_user
) -> None:
    logged_in("admin")
    for path in ("/", "/admin/annotators", "/account"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-store", path
    user = make_user("evaluator")
    secret, _ = create_api_token(db, user, "script")
    db.commit()
    api = TestClient(client.app)
    r = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert api.get("/api/v1/me").headers["cache-control"] == "no-store"  # the 401 too
    static = api.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")


def test_metrics_need_a_strong_token_in_production(
    settings: Settings, engine, session_factory: sessionmaker[Session]
) -> None:
    production = settings.model_copy(update={"pairwise_env": "production"})
    app = create_app(production, engine)
    app.state.sessionmaker = session_factory
    with TestClient(app) as client:
        r = client.get("/metrics")
        assert r.status_code == 403 and "METRICS_TOKEN" in r.text and "pairwise_" not in r.text
    with pytest.raises(SettingsError, match="METRICS_TOKEN is too weak"):
        create_app(production.model_copy(update={"metrics_token": "s3cret"}), engine)
    token = "m" * 40
    app = create_app(production.model_copy(update={"metrics_token": token}), engine)
    app.state.sessionmaker = session_factory
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        r = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "pairwise_metrics_database_up" in r.text
