"""Shared fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, Postgres.

Each test runs inside a transaction that is rolled back; the app's sessions join it
through savepoints, so a route's commit is visible to the test and undone afterwards.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.auth.service import create_user
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models import Project, User
from app.projects.service import add_member, ensure_default_project
from app.settings import Settings

PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgres"]


def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and os.environ.get("CI") == "true":
        pytest.fail("CI=true but TEST_DATABASE_URL is not set: Postgres tests must run in CI")
    return url


def reset_postgres(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def fresh_engine(backend: str, tmp: Path) -> Engine:
    """A freshly migrated database of the given backend, or skip/fail when it is missing."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / 'test.db'}")
    else:
        url = postgres_url()
        if not url:
            pytest.skip("TEST_DATABASE_URL not set (Postgres tests run in CI)")
        engine = make_engine(url, pool_size=60, max_overflow=20)
        try:
            reset_postgres(engine)
        except Exception as exc:  # noqa: BLE001
            if os.environ.get("CI") == "true":
                pytest.fail(f"Postgres unreachable in CI: {exc}")
            pytest.skip(f"Postgres unreachable: {exc}")
    upgrade(engine)
    return engine


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = fresh_engine(backend, tmp_path_factory.mktemp(backend))
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        pairwise_env="test",
        data_dir=tmp_path,
        secret_key="t" * 48,
        sampler_enabled=False,
        database_url="sqlite://",
        # Kept admin figures are recomputed in the request that finds them out of date, so a
        # page after new labels shows them (tests/snapshots/test_snapshots.py covers the rest).
        aggregates_background=False,
        aggregates_refresh_seconds=0,
    )  # type: ignore[call-arg]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    application = create_app(settings, engine)
    application.state.sessionmaker = session_factory
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def project(db: Session, settings: Settings) -> Project:
    project = ensure_default_project(db, settings.policy_base_model)
    db.commit()
    return project


@pytest.fixture
def make_user(db: Session, settings: Settings, project: Project) -> Callable[..., User]:
    counter = iter(range(1, 100000))

    def make(*roles: str, username: str | None = None, member: bool = True) -> User:
        name = username or f"user{next(counter)}_{'_'.join(roles) or 'none'}"
        user = create_user(db, settings, name, PASSWORD, set(roles))
        if member:
            add_member(db, project, user)
        db.commit()
        return user

    return make


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = CSRF_RE.search(page.text)
    assert token, "login form has no CSRF token"
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    match = CSRF_RE.search(home.text)
    assert match
    return match.group(1)


@pytest.fixture
def logged_in(
    client: TestClient, make_user: Callable[..., User]
) -> Callable[..., tuple[User, str]]:
    def do(*roles: str) -> tuple[User, str]:
        user = make_user(*roles)
        return user, login(client, user.username)

    return do


from tests.factories.models import (  # noqa: E402,F401 - shared fixtures
    tiny_policy_dir,
    tiny_policy_model,
    tiny_reward_dir,
)
