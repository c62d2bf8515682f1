"""CSRF beyond tests/auth/test_auth.py: JSON smuggled as a "simple" request, cross-site Referer.

A browser sends `text/plain` and form bodies cross-site without a preflight, with the
victim's cookie; such requests must store nothing. (The missing token and a cross-site
Origin on a form are covered in tests/auth/test_auth.py.)
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.service import create_api_token
from app.models import ApiToken, Comparison
from tests.factories import make_pair


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def leased(client: TestClient, db: Session, project, logged_in) -> tuple[int, str, object]:
    """An evaluator signed in by cookie with one leased pair: (assignment id, csrf, user)."""
    make_pair(db, project)
    db.commit()
    user, csrf = logged_in("evaluator")
    pair = client.get("/api/v1/pairs/next").json()["pair"]
    return pair["assignment_id"], csrf, user


def test_json_sent_as_text_plain_with_the_cookie_is_refused(
    client: TestClient, db: Session, leased
) -> None:
    assignment_id, _, _ = leased
    body = json.dumps({"assignment_id": assignment_id, "choice": "left", "strength": "clear"})
    r = client.post("/api/v1/comparisons", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert _count(db, Comparison) == 0


def test_form_encoded_body_to_a_json_endpoint_is_refused(
    client: TestClient, db: Session, leased
) -> None:
    """Even with a valid token (a form cannot carry the header), the body is not taken."""
    assignment_id, csrf, _ = leased
    form = {"assignment_id": str(assignment_id), "choice": "left", "strength": "clear"}
    without = client.post("/api/v1/comparisons", data=form)
    assert without.status_code == 403
    smuggled = client.post("/api/v1/comparisons", data={**form, "csrf_token": csrf})
    assert smuggled.status_code == 422, smuggled.text
    assert _count(db, Comparison) == 0


def test_text_plain_json_with_a_bearer_token_is_not_parsed(
    client: TestClient, db: Session, leased
) -> None:
    """Token clients are not CSRF targets, but the body must still be declared JSON."""
    assignment_id, _, user = leased
    secret, _ = create_api_token(db, user, "script")  # type: ignore[arg-type]
    db.commit()
    body = json.dumps({"assignment_id": assignment_id, "choice": "left", "strength": "clear"})
    r = TestClient(client.app).post(
        "/api/v1/comparisons",
        content=body,
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 422, r.text
    assert _count(db, Comparison) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Referer": "https://evil.example/page"},
        {"Origin": "null"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "https://evil.example", "Referer": "http://testserver/account"},
    ],
    ids=["cross-site-referer", "null-origin", "lookalike-origin", "origin-wins-over-referer"],
)
def test_cross_site_write_with_the_cookie_is_refused(
    client: TestClient, db: Session, logged_in, headers: dict[str, str]
) -> None:
    _, csrf = logged_in("evaluator")
    before = _count(db, ApiToken)
    r = client.post("/account/tokens", data={"name": "x", "csrf_token": csrf}, headers=headers)
    assert r.status_code == 403 and "Cross-site" in r.text
    json_write = client.post(
        "/api/v1/comparisons",
        json={"assignment_id": 1, "choice": "left"},
        headers={"X-CSRF-Token": csrf, **headers},
    )
    assert json_write.status_code == 403
    assert _count(db, ApiToken) == before


def test_same_origin_write_with_the_token_goes_through(
    client: TestClient, db: Session, logged_in
) -> None:
    """The control: the checks above refuse the origin, not every write."""
    _, csrf = logged_in("evaluator")
    r = client.post(
        "/account/tokens",
        data={"name": "x", "csrf_token": csrf},
        headers={"Origin": "http://testserver", "Referer": "http://testserver/account"},
    )
    assert r.status_code == 200 and 'id="new-token"' in r.text


def test_login_from_another_site_is_refused(client: TestClient, make_user) -> None:
    user = make_user("evaluator")
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post(
        "/login",
        data={"username": user.username, "password": "correct horse battery", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303
