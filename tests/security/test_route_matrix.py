"""Every route × role × method: anonymous → login/401, wrong role → 403, right role → in.

Generated from `app.routes`; a new route that declares no role (and is not public) fails.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.access import ANY_USER, PUBLIC, app_routes
from app.main import create_app
from app.models import ROLES
from app.settings import Settings


def all_routes() -> list[tuple[str, str, frozenset[str] | None]]:
    settings = Settings(pairwise_env="test", secret_key="t" * 48, database_url="sqlite://")  # type: ignore[call-arg]
    return app_routes(create_app(settings))


ROUTES = all_routes()


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


def test_every_route_declares_its_roles() -> None:
    undeclared = [(p, m) for p, m, roles in ROUTES if roles is None and (p, m) not in PUBLIC]
    assert undeclared == [], f"routes without a role rule: {undeclared}"


@pytest.mark.parametrize(
    ("path", "method", "roles"), [r for r in ROUTES if (r[0], r[1]) not in PUBLIC]
)
def test_anonymous_is_sent_to_login(client: TestClient, path: str, method: str, roles) -> None:
    r = client.request(method, concrete(path), follow_redirects=False)
    if path.startswith("/api/"):
        assert r.status_code == 401, (path, method, r.status_code)
    else:
        assert r.status_code in (303, 401), (path, method, r.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_in_only_where_allowed(client: TestClient, logged_in, role: str) -> None:
    _, csrf = logged_in(role)
    checked = 0
    for path, method, roles in ROUTES:
        if (path, method) in PUBLIC or roles is None or path == "/logout":
            continue
        r = client.request(
            method, concrete(path), headers={"X-CSRF-Token": csrf}, follow_redirects=False
        )
        allowed = roles == ANY_USER or role in roles
        if allowed:
            assert r.status_code != 403, (role, path, method, r.text[:200])
        else:
            assert r.status_code == 403, (role, path, method, r.status_code)
        checked += 1
    assert checked >= 4
