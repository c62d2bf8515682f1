"""Hardening beyond the probe's findings: caching, the metrics token, forwarded-for headers."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.service import create_api_token


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
