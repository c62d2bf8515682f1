"""TOTP second factor: admins and ML staff enrol before anything else, then sign in with a code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_api_token
from app.main import create_app
from app.models import User
from app.settings import Settings
from tests.conftest import CSRF_RE, PASSWORD, login


@pytest.fixture
def strict(
    settings: Settings, engine, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"totp_required_roles": "admin,ml"}), engine)
    app.state.sessionmaker = session_factory
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _enrol(client: TestClient, csrf: str) -> str:
    page = client.get("/account/totp")
    assert page.status_code == 200 and "otpauth://totp/" in page.text
    secret = page.text.split('id="totp-secret">')[1].split("<")[0]
    token = page.text.split('name="token" value="')[1].split('"')[0]
    wrong = client.post(
        "/account/totp", data={"csrf_token": csrf, "token": token, "code": "000000"}
    )
    assert wrong.status_code == 422 and "does not match" in wrong.text
    assert secret in wrong.text  # the same key, so a typo does not mean scanning again
    r = client.post(
        "/account/totp",
        data={"csrf_token": csrf, "token": token, "code": pyotp.TOTP(secret).now()},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return secret


def test_admin_must_enrol_before_anything_else(strict: TestClient, db: Session, make_user) -> None:
    admin = make_user("admin")
    secret_token, _ = create_api_token(db, admin, "script")
    db.commit()
    csrf = login(strict, admin.username)
    r = strict.get("/admin/annotators", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/totp"
    assert strict.get("/api/v1/me").status_code == 403
    api = TestClient(strict.app)
    bearer = {"Authorization": f"Bearer {secret_token}"}
    assert "second factor" in api.get("/api/v1/me", headers=bearer).json()["detail"]
    db.expire_all()
    assert db.get(User, admin.id).totp_secret is None  # type: ignore[union-attr]  # a wrong code stores nothing

    _enrol(strict, csrf)
    assert strict.get("/admin/annotators").status_code == 200
    assert api.get("/api/v1/me", headers=bearer).status_code == 200
    db.expire_all()
    assert db.get(User, admin.id).totp_secret  # type: ignore[union-attr]


def test_sign_in_needs_the_password_and_then_a_fresh_code(
    strict: TestClient, db: Session, make_user
) -> None:
    admin = make_user("admin", "ml")
    db.commit()
    secret = _enrol(strict, login(strict, admin.username))
    strict.post(
        "/logout", data={"csrf_token": CSRF_RE.search(strict.get("/account").text).group(1)}
    )  # type: ignore[union-attr]
    strict.cookies.clear()

    page = strict.get("/login")
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    step = strict.post(
        "/login",
        data={"username": admin.username, "password": PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert step.status_code == 200 and 'action="/login/totp"' in step.text
    assert "pairwise_session" not in step.cookies  # no session on the password alone
    assert strict.get("/admin/annotators", follow_redirects=False).status_code == 303

    totp = pyotp.TOTP(secret)
    used = totp.now()  # the enrolment used this step up
    for code in ("123456", used, "12345", "abcdef"):
        r = strict.post(
            "/login/totp", data={"code": code, "csrf_token": csrf}, follow_redirects=False
        )
        assert r.status_code == 401 and "Wrong or used code" in r.text, code
    stranger = TestClient(strict.app)  # the password step was not taken in this browser
    stranger.cookies.set("pairwise_csrf", csrf, path="/login")
    r = stranger.post("/login/totp", data={"code": totp.at(time.time() + 30), "csrf_token": csrf})
    assert r.status_code == 401 and "enter your password again" in r.text
    tampered = strict.cookies.get("pairwise_login_step", path="/login")
    assert tampered
    forged = tampered.replace(f"{admin.id}:", f"{admin.id + 1}:", 1)
    stranger.cookies.set("pairwise_login_step", forged, path="/login")
    r = stranger.post("/login/totp", data={"code": totp.at(time.time() + 30), "csrf_token": csrf})
    assert r.status_code == 401 and "enter your password again" in r.text

    ok = strict.post(
        "/login/totp",
        data={"code": totp.at(time.time() + 30), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text
    assert strict.get("/admin/annotators").status_code == 200


def test_evaluators_are_not_asked_and_the_default_is_admin_and_ml_in_production(
    strict: TestClient, make_user, db: Session
) -> None:
    evaluator = make_user("evaluator")
    db.commit()
    login(strict, evaluator.username)
    assert strict.get("/label", follow_redirects=False).status_code == 200
    assert Settings(_env_file=None, pairwise_env="production").resolved_totp_roles() == {
        "admin",
        "ml",
    }  # type: ignore[call-arg]
    assert Settings(_env_file=None).resolved_totp_roles() == frozenset()  # type: ignore[call-arg]
    off = Settings(_env_file=None, pairwise_env="production", totp_required_roles="")  # type: ignore[call-arg]
    assert off.resolved_totp_roles() == frozenset()
    with pytest.raises(ValueError, match="expected roles among"):
        Settings(_env_file=None, totp_required_roles="admin,root")  # type: ignore[call-arg]
