"""The TOTP pages: the code step of a login, and enrolment on the account page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from app.auth import service as auth
from app.auth import totp
from app.auth.routes import (
    LOGIN_STEP_COOKIE,
    _login_page,
    _safe_next,
    finish_login,
    second_step_page,
)
from app.deps import PRE_CSRF_COOKIE, Authenticated, DbDep, SettingsDep, client_ip, same_origin
from app.models import User
from app.settings import Settings
from app.web import redirect, render

router = APIRouter(tags=["auth"])

Code = Annotated[str, Form(max_length=20)]


@router.post("/login/totp", include_in_schema=False)
def login_code(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    code: Code,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not same_origin(request) or not expected or not auth.csrf_matches(expected, csrf_token):
        raise HTTPException(403, "Missing or invalid CSRF token; reload the page and try again.")
    nxt = _safe_next(next)
    user = totp.login_step_user(db, settings, request.cookies.get(LOGIN_STEP_COOKIE, ""))
    if user is None:
        return _login_page(
            request, "The sign-in took too long; enter your password again.", 401, nxt
        )
    throttle = request.app.state.login_throttle
    ip = client_ip(request)
    if throttle.blocked(user.username, ip):
        auth.audit(db, "login.throttled", None, user.username, ip)
        return _login_page(
            request, "Too many failed attempts. Wait 15 minutes and try again.", 429, nxt
        )
    if not totp.verify(user, code):
        throttle.record_failure(user.username, ip)
        auth.audit(db, "login.totp_failed", user.id, f"user:{user.id}", ip)
        return second_step_page(request, settings, user, nxt, "Wrong or used code.", 401)
    throttle.reset(user.username)
    return finish_login(request, db, settings, user, ip, nxt)


def _enrol_page(
    request: Request, settings: Settings, user: User, secret: str | None = None, error: str = ""
) -> Response:
    ctx: dict[str, object] = {"enrolled": bool(user.totp_secret), "error": error}
    if not user.totp_secret:
        secret = secret or totp.new_secret()
        ctx |= {
            "secret": secret,
            "uri": totp.otpauth_uri(user, secret),
            "token": totp.enrolment_token(settings, user, secret),
            "required": totp.required(settings, user),
        }
    return render(request, "account_totp.html", ctx, status_code=422 if error else 200)


@router.get("/account/totp", include_in_schema=False)
def enrol_page(request: Request, settings: SettingsDep, principal: Authenticated) -> Response:
    return _enrol_page(request, settings, principal.user)


@router.post("/account/totp", include_in_schema=False)
def enrol(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Authenticated,
    token: Annotated[str, Form(max_length=500)],
    code: Code,
) -> Response:
    if principal.user.totp_secret:
        return _enrol_page(request, settings, principal.user)
    try:
        totp.enrol(db, settings, principal.user, token, code)
    except auth.AccountError as exc:
        owner, _, secret = (totp.unsigned(settings, "totp-enrol", token) or "").partition(":")
        same = owner == str(principal.user.id) and secret  # the same secret, typed again
        return _enrol_page(request, settings, principal.user, secret if same else None, str(exc))
    return redirect(request, "/account")
