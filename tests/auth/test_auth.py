"""Login, sessions, CSRF, passwords and API tokens as a user meets them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, UserSession
from tests.conftest import CSRF_RE, PASSWORD, login


def test_login_logout_round_trip(client: TestClient, make_user, db: Session) -> None:
    user = make_user("evaluator")
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    csrf = login(client, user.username)
    assert f"Welcome, {user.username}" in client.get("/").text
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303
    assert db.scalar(select(func.count()).select_from(UserSession)) == 0


def test_wrong_password_shows_error_and_is_audited(client: TestClient, make_user, db) -> None:
    user = make_user("evaluator")
    page = client.get("/login")
    token = CSRF_RE.search(page.text).group(1)
    r = client.post(
        "/login", data={"username": user.username, "password": "nope-nope", "csrf_token": token}
    )
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    actions = set(db.scalars(select(AuditEvent.action)))
    assert "login.failed" in actions


def test_session_id_rotates_at_login(client: TestClient, make_user) -> None:
    user = make_user("evaluator")
    login(client, user.username)
    first = client.cookies.get("pairwise_session")
    login(client, user.username)
    second = client.cookies.get("pairwise_session")
    assert first and second and first != second
    assert len(second) >= 32  # 256 random bits, url-safe


def test_login_rate_limited_per_account(client: TestClient, make_user) -> None:
    user = make_user("evaluator")
    token = CSRF_RE.search(client.get("/login").text).group(1)
    for _ in range(5):
        client.post(
            "/login", data={"username": user.username, "password": "badbadbad", "csrf_token": token}
        )
    r = client.post(
        "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429
    assert "Too many failed attempts" in r.text


def test_post_without_csrf_token_is_refused(client: TestClient, logged_in) -> None:
    logged_in("evaluator")
    r = client.post("/account/tokens", data={"name": "x"})
    assert r.status_code == 403
    assert "CSRF" in r.text


def test_cross_site_origin_is_refused(client: TestClient, logged_in) -> None:
    _, csrf = logged_in("evaluator")
    r = client.post(
        "/account/tokens",
        data={"name": "x", "csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_login_form_without_csrf_is_refused(client: TestClient, make_user) -> None:
    user = make_user("evaluator")
    r = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert r.status_code in (403, 422)


def test_overlong_password_and_username_rejected_with_message(
    client: TestClient, make_user
) -> None:
    make_user("evaluator", username="someone")
    token = CSRF_RE.search(client.get("/login").text).group(1)
    r = client.post(
        "/login", data={"username": "someone", "password": "x" * 300, "csrf_token": token}
    )
    assert r.status_code == 422 and "too long" in r.text
    r = client.post(
        "/login", data={"username": "u" * 100, "password": "whatever1", "csrf_token": token}
    )
    assert r.status_code == 422 and "too long" in r.text


def test_password_change_ends_sessions_and_validates(client: TestClient, logged_in) -> None:
    user, csrf = logged_in("evaluator")
    r = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "csrf_token": csrf},
    )
    assert r.status_code == 422 and "at least 8" in r.text
    r = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a much better passphrase",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    login(client, user.username, "a much better passphrase")


def test_api_token_shown_once_hashed_and_revocable(
    client: TestClient, logged_in, db: Session
) -> None:
    from app.models import ApiToken

    user, csrf = logged_in("evaluator")
    page = client.post("/account/tokens", data={"name": "script", "csrf_token": csrf})
    secret = page.text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("pw_")
    stored = db.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.token_hash != secret and secret not in stored.token_hash
    api = TestClient(client.app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["username"] == user.username
    assert secret not in client.get("/account").text  # shown once only
    client.post(f"/account/tokens/{stored.id}/revoke", data={"csrf_token": csrf})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_deactivated_user_is_logged_out(client: TestClient, logged_in, db: Session) -> None:
    from app.auth.service import deactivate

    user, _ = logged_in("evaluator")
    deactivate(db, user, None)
    db.commit()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_api_requires_auth(client: TestClient) -> None:
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["detail"] == "Authentication required."


def test_security_headers_on_pages(client: TestClient) -> None:
    r = client.get("/login")
    csp = r.headers["content-security-policy"]
    assert "nonce-" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_token_last_use_is_recorded_to_the_minute_without_a_write_per_request(
    client: TestClient, logged_in, db: Session
) -> None:
    from datetime import timedelta

    from app.auth.service import create_api_token
    from app.models import ApiToken, utcnow

    user, _ = logged_in("evaluator")
    secret, token = create_api_token(db, user, "script")
    db.commit()
    api = TestClient(client.app)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    db.expire_all()
    first = db.get(ApiToken, token.id).last_used_at
    assert first is not None  # shown on the account page as "last used"
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    db.expire_all()
    assert db.get(ApiToken, token.id).last_used_at == first  # within the minute: no write
    db.get(ApiToken, token.id).last_used_at = utcnow() - timedelta(minutes=5)
    db.commit()
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    db.expire_all()
    assert db.get(ApiToken, token.id).last_used_at > utcnow() - timedelta(minutes=1)
