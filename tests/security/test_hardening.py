"""Hardening beyond the probe's findings: caching, the metrics token, forwarded-for headers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_api_token
from app.main import create_app
from app.models import AuditEvent, Invitation, User
from app.settings import Settings, SettingsError
from tests.conftest import CSRF_RE, PASSWORD


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


def _login_from(app, peer: str, forwarded: str, username: str) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, client=(peer, 41000)) as c:
        token = CSRF_RE.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
        r = c.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token},
            headers={"X-Forwarded-For": forwarded},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text


def _last_login_ip(db: Session) -> str | None:
    db.expire_all()
    return db.scalars(
        select(AuditEvent.ip).where(AuditEvent.action == "login").order_by(AuditEvent.id.desc())
    ).first()


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    settings: Settings, engine, session_factory: sessionmaker[Session], db: Session, make_user
) -> None:
    user = make_user("evaluator")
    db.commit()
    plain = create_app(settings, engine)
    plain.state.sessionmaker = session_factory
    _login_from(plain, "127.0.0.1", "203.0.113.9", user.username)  # spoofed through loopback
    assert _last_login_ip(db) == "127.0.0.1"

    behind = create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.0/8"}), engine)
    behind.state.sessionmaker = session_factory
    _login_from(behind, "10.1.2.3", "203.0.113.9", user.username)
    assert _last_login_ip(db) == "203.0.113.9"
    _login_from(behind, "198.51.100.7", "203.0.113.9", user.username)  # not the proxy
    assert _last_login_ip(db) == "198.51.100.7"


def test_trusted_proxies_setting_takes_addresses_only_and_serve_leaves_uvicorn_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    with pytest.raises(ValidationError, match="expected IP addresses or networks"):
        Settings(_env_file=None, trusted_proxies="10.0.0.1, proxy.local")  # type: ignore[call-arg]
    import uvicorn

    from app import cli
    from app.settings import get_settings

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("SAMPLER_ENABLED", "false")
    get_settings.cache_clear()
    try:
        cli.serve()
    finally:
        get_settings.cache_clear()
    assert calls and calls[0]["proxy_headers"] is False  # uvicorn would trust loopback itself


def test_look_alikes_of_an_existing_username_are_refused(
    client: TestClient, db: Session, logged_in, make_user
) -> None:
    make_user("admin", username="admin")
    make_user("evaluator", username="lena")
    db.commit()
    _, csrf = logged_in("admin")
    before = db.scalar(select(func.count()).select_from(User))
    for name, like in [
        ("\u0430dmin", "admin"),  # Cyrillic а
        ("ADMIN", None),  # the normal form is casefolded: "admin" itself
        ("\uff41dmin", None),  # full-width ａ: NFKC makes it "admin" itself
        ("l\u0435na", "lena"),  # Cyrillic е
        ("1ena", "lena"),  # digit one for l
    ]:
        for password in ("a-long-passphrase-9", ""):  # an account now, or an invitation
            r = client.post(
                "/admin/annotators",
                data={"csrf_token": csrf, "username": name, "password": password},
            )
            assert r.status_code == 422, (name, r.text)
            expected = f"looks like the existing account &#39;{like}&#39;" if like else "is taken"
            assert expected in r.text, (name, r.text)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == before
    assert db.scalar(select(func.count()).select_from(Invitation)) == 0


def test_usernames_are_stored_nfkc_normalised(client: TestClient, db: Session, logged_in) -> None:
    _, csrf = logged_in("admin")
    r = client.post(
        "/api/v1/annotators",
        json={"username": " \uff42\uff4f\uff42\u2082 ", "password": "a-long-passphrase-9"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text
    assert r.json()["username"] == "bob2"
    assert db.scalar(select(User.username).where(User.id == r.json()["id"])) == "bob2"
    distinct = client.post(
        "/api/v1/annotators",
        json={"username": "bobby", "password": "a-long-passphrase-9"},
        headers={"X-CSRF-Token": csrf},
    )
    assert distinct.status_code == 201, distinct.text


def test_docs_page_loads_swagger_ui_from_the_package_under_the_csp(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
    assert "<script>" not in r.text  # no inline script: the start-up code is a static file
    assert client.get("/docs/oauth2-redirect").status_code == 404  # FastAPI's CDN page is gone


def test_api_requests_are_limited_per_token(
    settings: Settings, engine, session_factory: sessionmaker[Session], db: Session, make_user
) -> None:
    user = make_user("evaluator")
    first, _ = create_api_token(db, user, "busy script")
    second, _ = create_api_token(db, user, "other script")
    db.commit()
    app = create_app(settings.model_copy(update={"api_requests_per_minute": 3}), engine)
    app.state.sessionmaker = session_factory
    with TestClient(app) as client:
        busy = {"Authorization": f"Bearer {first}"}
        assert [client.get("/api/v1/me", headers=busy).status_code for _ in range(3)] == [200] * 3
        r = client.get("/api/v1/me", headers=busy)
        assert r.status_code == 429 and r.headers["retry-after"] == "60"
        assert "Too many requests with this API token" in r.json()["detail"]
        other = {"Authorization": f"Bearer {second}"}
        assert client.get("/api/v1/me", headers=other).status_code == 200  # per token
    assert Settings(_env_file=None).api_requests_per_minute > 0  # type: ignore[call-arg]  # on by default


def test_common_and_context_passwords_are_refused_at_creation_and_change(
    client: TestClient, db: Session, logged_in
) -> None:
    from app.auth.passwords import common_passwords

    assert len(common_passwords()) > 10_000 and "trustno1" in common_passwords()
    user, csrf = logged_in("admin")
    h = {"X-CSRF-Token": csrf}
    before = db.scalar(select(func.count()).select_from(User))
    for name, password, why in [
        ("carol", "TrustNo1", "most common"),
        ("carol", "qwertyuiop", "most common"),
        ("carol", "Carol-2024!", "too close to the username"),
        ("carol", "pairwise123", "product's name"),
    ]:
        r = client.post(
            "/api/v1/annotators", json={"username": name, "password": password}, headers=h
        )
        assert r.status_code == 422, (password, r.text)
        assert why.split("'")[0] in str(r.json()["detail"]), (password, r.json())
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == before
    r = client.post(
        "/account/password",
        data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "superman1"},
    )
    assert r.status_code == 422 and "most common" in r.text
    assert client.get("/account").status_code == 200  # still signed in: nothing changed
    ok = client.post(
        "/api/v1/annotators",
        json={"username": "carol", "password": "carol keeps bees"},
        headers=h,
    )
    assert ok.status_code == 201, ok.text  # a name inside a passphrase is fine
