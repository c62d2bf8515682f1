"""Request dependencies: the database session, the caller, role checks and CSRF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import service as auth
from app.db import transaction
from app.models import User, UserSession
from app.settings import Settings

SESSION_COOKIE = "pairwise_session"
PRE_CSRF_COOKIE = "pairwise_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid credentials: pages redirect to the login page, the API answers 401."""


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with transaction(request.app.state.sessionmaker) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbDep = Annotated[Session, Depends(get_db, scope="function")]


@dataclass
class Principal:
    user: User
    session: UserSession | None  # None when authenticated by API token
    # Snapshots, safe to read after the request's transaction has ended (error pages).
    username: str = ""
    roles: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.username = self.user.username
        self.roles = frozenset(self.user.roles)

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token if self.session else ""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """A cross-site Origin (or Referer, when Origin is absent) is refused."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.url.netloc


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in SAFE_METHODS:
        return
    if not same_origin(request):
        raise HTTPException(403, "Cross-site request refused.")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        given = value if isinstance(value, str) else None
    if not auth.csrf_matches(expected, given):
        raise HTTPException(403, "Missing or invalid CSRF token; reload the page and try again.")


async def optional_principal(
    request: Request, db: DbDep, settings: SettingsDep
) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        # Database work stays off the event loop: a blocking wait for SQLite's write lock
        # here would stall the loop, so the request holding the lock could never commit.
        user = await run_in_threadpool(auth.resolve_api_token, db, header[7:].strip())
        if user is None:
            raise HTTPException(401, "Invalid or revoked API token.")
        request.state.principal = Principal(user, None)
        return request.state.principal
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    record = await run_in_threadpool(auth.resolve_session, db, settings, token)
    if record is None:
        return None
    user = await run_in_threadpool(db.get, User, record.user_id)
    if user is None or not user.active:
        return None
    await check_csrf(request, record.csrf_token)
    request.state.csrf_token = record.csrf_token
    request.state.principal = Principal(user, record)
    return request.state.principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise LoginRequired()
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers holding any of `roles`; others get 403."""
    allowed = frozenset(roles)

    def dependency(principal: PrincipalDep) -> Principal:
        if not principal.roles & allowed:
            raise HTTPException(403, "Your account does not have access to this page.")
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


Authenticated = PrincipalDep
Evaluator = Annotated[Principal, Depends(require_roles("evaluator"))]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
MLStaff = Annotated[Principal, Depends(require_roles("ml"))]
AdminOrML = Annotated[Principal, Depends(require_roles("admin", "ml"))]
Reviewer = Annotated[Principal, Depends(require_roles("admin", "reviewer"))]
