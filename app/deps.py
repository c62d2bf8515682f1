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
from app.auth import totp
from app.db import transaction
from app.models import User, UserSession
from app.settings import Settings

SESSION_COOKIE = "pairwise_session"
PRE_CSRF_COOKIE = "pairwise_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid credentials: pages redirect to the login page, the API answers 401."""


class SecondFactorRequired(Exception):
    """The account's roles need TOTP and it has none yet: pages go to enrolment, the API 403."""


# Where an account that must enrol a second factor may still go.
ENROLMENT_PATHS = frozenset({"/account/totp", "/logout"})


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
    needs_second_factor: bool = False
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


@dataclass(frozen=True)
class Caller:
    """Who a request's credentials name: `user` is None when they name no active user."""

    user: User | None
    session: UserSession | None  # the cookie's session; None for a bearer token
    bearer: bool


def resolve_caller(
    db: Session, settings: Settings, authorization: str, session_cookie: str | None
) -> Caller | None:
    """The caller behind a bearer token or a session cookie; None when there is neither."""
    if authorization.lower().startswith("bearer "):
        return Caller(auth.resolve_api_token(db, authorization[7:].strip()), None, True)
    if not session_cookie:
        return None
    record = auth.resolve_session(db, settings, session_cookie)
    user = db.get(User, record.user_id) if record else None
    if record is None or user is None or not user.active:
        return Caller(None, None, False)
    return Caller(user, record, False)


async def optional_principal(
    request: Request, db: DbDep, settings: SettingsDep
) -> Principal | None:
    # Database work stays off the event loop: a blocking wait for SQLite's write lock
    # here would stall the loop, so the request holding the lock could never commit.
    authorization = request.headers.get("authorization", "")
    caller = await run_in_threadpool(
        resolve_caller, db, settings, authorization, request.cookies.get(SESSION_COOKIE)
    )
    if caller is None:
        return None
    if caller.bearer:
        if caller.user is None:
            raise HTTPException(401, "Invalid or revoked API token.")
        secret = authorization[7:].strip()
        if not request.app.state.token_rate_limit.allow(auth.sha256(secret)):
            raise HTTPException(
                429,
                "Too many requests with this API token; wait a minute and slow down.",
                headers={"Retry-After": "60"},
            )
        request.state.principal = Principal(caller.user, None, _unenrolled(settings, caller.user))
        return request.state.principal
    if caller.user is None or caller.session is None:
        return None
    await check_csrf(request, caller.session.csrf_token)
    request.state.csrf_token = caller.session.csrf_token
    request.state.principal = Principal(
        caller.user, caller.session, _unenrolled(settings, caller.user)
    )
    return request.state.principal


def _unenrolled(settings: Settings, user: User) -> bool:
    return not user.totp_secret and totp.required(settings, user)


async def current_principal(
    request: Request,
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise LoginRequired()
    if principal.needs_second_factor and request.url.path not in ENROLMENT_PATHS:
        raise SecondFactorRequired()
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
