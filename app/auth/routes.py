"""Login, logout and the account page (password change, API tokens)."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.auth import service as auth
from app.auth import totp
from app.auth.passwords import PasswordPolicyError
from app.deps import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    Authenticated,
    DbDep,
    SettingsDep,
    client_ip,
    same_origin,
)
from app.models import User
from app.settings import Settings
from app.web import redirect, render

router = APIRouter(tags=["auth"])
LOGIN_STEP_COOKIE = "pairwise_login_step"


def _safe_next(url: str | None) -> str:
    """Only same-site relative paths: no open redirects."""
    if not url or not url.startswith("/") or url.startswith("//") or urlsplit(url).netloc:
        return "/"
    return url


def _login_page(request: Request, error: str = "", status: int = 200, nxt: str = "/") -> Response:
    token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"error": error, "login_csrf": token, "next": nxt},
        status_code=status,
    )
    response.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    return _login_page(request, nxt=_safe_next(next))


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=1000)],
    password: Annotated[str, Form(max_length=4096)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not same_origin(request) or not expected or not auth.csrf_matches(expected, csrf_token):
        raise HTTPException(403, "Missing or invalid CSRF token; reload the page and try again.")
    throttle = request.app.state.login_throttle
    ip = client_ip(request)
    nxt = _safe_next(next)
    if throttle.blocked(username, ip):
        auth.audit(db, "login.throttled", None, username[:64], ip)
        return _login_page(
            request, "Too many failed attempts. Wait 15 minutes and try again.", 429, nxt
        )
    if len(username) > auth.USERNAME_MAX or len(password) > settings.password_max_length:
        throttle.record_failure(username, ip)
        return _login_page(request, "Username or password is too long.", 422, nxt)
    user = auth.authenticate(db, username, password)
    if user is None:
        throttle.record_failure(username, ip)
        auth.audit(db, "login.failed", None, username[:64], ip)
        return _login_page(request, "Wrong username or password.", 401, nxt)
    if user.totp_secret:
        # The password was right; the session waits for the code (app/auth/totp_routes.py).
        auth.audit(db, "login.password_ok", user.id, f"user:{user.id}", ip)
        return second_step_page(request, settings, user, nxt)
    throttle.reset(username)
    return finish_login(request, db, settings, user, ip, nxt)


def second_step_page(
    request: Request, settings: Settings, user: User, nxt: str, error: str = "", status: int = 200
) -> Response:
    """The code form; a signed, five-minute cookie names the user whose password was right."""
    token = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login_totp.html",
        {"error": error, "login_csrf": token, "next": nxt},
        status_code=status,
    )
    response.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    response.set_cookie(
        LOGIN_STEP_COOKIE,
        totp.login_step(settings, user),
        httponly=True,
        samesite="strict",
        secure=settings.production,
        path="/login",
        max_age=totp.LOGIN_STEP_SECONDS,
    )
    return response


def finish_login(
    request: Request, db: Session, settings: Settings, user: User, ip: str, nxt: str
) -> Response:
    """A new session (the old one ended), audited; the login cookies cleared."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        auth.end_session(db, old)
    new = auth.start_session(db, settings, user, ip)
    auth.audit(db, "login", user.id, f"user:{user.id}", ip)
    response = redirect(request, nxt)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        httponly=True,
        samesite="lax",
        secure=settings.production,
        max_age=settings.session_absolute_hours * 3600,
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/login")
    response.delete_cookie(LOGIN_STEP_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, db: DbDep, principal: Authenticated) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.end_session(db, token)
    auth.audit(db, "logout", principal.user.id, f"user:{principal.user.id}")
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account", include_in_schema=False)
def account_page(request: Request, db: DbDep, principal: Authenticated) -> Response:
    tokens = auth.list_api_tokens(db, principal.user)
    return render(request, "account.html", {"tokens": tokens})


@router.post("/account/password", include_in_schema=False)
def change_password(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Authenticated,
    current_password: Annotated[str, Form(max_length=4096)],
    new_password: Annotated[str, Form(max_length=4096)],
) -> Response:
    try:
        auth.change_password(db, settings, principal.user, current_password, new_password)
    except (auth.AccountError, PasswordPolicyError) as exc:
        tokens = auth.list_api_tokens(db, principal.user)
        return render(
            request, "account.html", {"tokens": tokens, "password_error": str(exc)}, status_code=422
        )
    # Every session ended, this one too: sign in again with the new password.
    response = redirect(request, "/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/account/tokens", include_in_schema=False)
def create_token(
    request: Request,
    db: DbDep,
    principal: Authenticated,
    name: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        secret, _ = auth.create_api_token(db, principal.user, name)
    except auth.AccountError as exc:
        tokens = auth.list_api_tokens(db, principal.user)
        return render(
            request, "account.html", {"tokens": tokens, "token_error": str(exc)}, status_code=422
        )
    tokens = auth.list_api_tokens(db, principal.user)
    return render(request, "account.html", {"tokens": tokens, "new_token": secret})


@router.post("/account/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(request: Request, db: DbDep, principal: Authenticated, token_id: int) -> Response:
    if not auth.revoke_api_token(db, principal.user, token_id):
        raise HTTPException(404, "No such token.")
    return redirect(request, "/account")
