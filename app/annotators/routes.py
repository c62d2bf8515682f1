"""Admin pages for annotators, and the public page where an invitee sets a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.annotators import cohorts, service
from app.annotators.stats import annotator_stats
from app.auth.passwords import PasswordPolicyError
from app.auth.service import AccountError, set_roles
from app.auth.usernames import normalize_username
from app.deps import Admin, DbDep, SettingsDep, same_origin
from app.domain.project_settings import settings_of
from app.models import Project, User
from app.projects.deps import ChosenProjectDep, ChosenProjectFormDep, chosen_project
from app.projects.service import visible_projects
from app.web import redirect, render

router = APIRouter(tags=["annotators"], include_in_schema=False)
Roles = Annotated[list[str], Form()]


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "No such account.")
    return user


def _list_page(
    request: Request, db: Session, principal: Admin, project: Project, **extra: object
) -> Response:
    ctx = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "rows": service.list_annotators(db, project.id),
        **extra,
    }
    status = 422 if extra.get("error") else 200
    return render(request, "admin/annotators.html", ctx, status_code=status)


@router.get("/admin/annotators")
def annotators(
    request: Request, db: DbDep, principal: Admin, project: ChosenProjectDep
) -> Response:
    return _list_page(request, db, principal, project)


@router.post("/admin/annotators")
def create_or_invite(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectFormDep,
    username: Annotated[str, Form(max_length=200)],
    roles: Roles = [],  # noqa: B006 - FastAPI copies form defaults
    password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    """With a password: the account now. Without: a one-time invitation link."""
    try:
        if password:
            user = service.create_account(
                db, settings, username, password, set(roles), proj, principal.user.id
            )
            return _list_page(request, db, principal, proj, notice=f"Created {user.username}.")
        token = service.invite(db, settings, username, set(roles), proj, principal.user.id)
    except (AccountError, PasswordPolicyError) as exc:
        return _list_page(request, db, principal, proj, error=str(exc))
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return _list_page(
        request, db, principal, proj, link=link, link_for=normalize_username(username)
    )


@router.get("/admin/annotators/{user_id}")
def annotator_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Admin,
    proj: ChosenProjectDep,
    user_id: int,
) -> Response:
    user = get_user(db, user_id)
    stats = annotator_stats(db, proj.id, user.id, settings)
    excluded = user.id in settings_of(proj).excluded_annotators
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "user": user,
        "stats": stats,
        "excluded": excluded,
        "max_day": max((n for _, n in stats.per_day), default=0),
        "tags": cohorts.tags_by_user(db).get(user.id, {}),
    }
    return render(request, "admin/annotator.html", ctx)


@router.post("/admin/annotators/{user_id}/roles")
def change_roles(
    request: Request,
    db: DbDep,
    principal: Admin,
    user_id: int,
    roles: Roles = [],  # noqa: B006
) -> Response:
    user = get_user(db, user_id)
    try:
        set_roles(db, user, set(roles), principal.user.id)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return redirect(request, f"/admin/annotators/{user.id}")


@router.post("/admin/annotators/{user_id}/deactivate")
def deactivate(request: Request, db: DbDep, principal: Admin, user_id: int) -> Response:
    user = get_user(db, user_id)
    try:
        service.deactivate_annotator(db, user, principal.user.id)
    except AccountError as exc:
        raise HTTPException(422, str(exc)) from exc
    return redirect(request, f"/admin/annotators/{user.id}")


@router.post("/admin/annotators/{user_id}/activate")
def activate(request: Request, db: DbDep, principal: Admin, user_id: int) -> Response:
    service.reactivate(db, get_user(db, user_id), principal.user.id)
    return redirect(request, f"/admin/annotators/{user_id}")


@router.post("/admin/annotators/{user_id}/reset")
def reset_password(
    request: Request, db: DbDep, settings: SettingsDep, principal: Admin, user_id: int
) -> Response:
    user = get_user(db, user_id)
    token = service.reset_link(db, settings, user, principal.user.id)
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    project = chosen_project(db, principal, None)
    return _list_page(request, db, principal, project, link=link, link_for=user.username)


@router.get("/invite/{token}")
def invite_page(request: Request, db: DbDep, token: str) -> Response:
    try:
        inv = service.find_link(db, token)
    except AccountError as exc:
        return render(request, "invite.html", {"error": str(exc), "usable": False}, status_code=410)
    return render(request, "invite.html", {"inv": inv, "usable": True, "token": token})


@router.post("/invite/{token}")
def invite_accept(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=4096)],
    confirm: Annotated[str, Form(max_length=4096)],
) -> Response:
    # The token itself is the capability; no session exists yet to carry a CSRF token.
    if not same_origin(request):
        raise HTTPException(403, "Cross-site request refused.")
    try:
        inv = service.find_link(db, token)
    except AccountError as exc:
        return render(request, "invite.html", {"error": str(exc), "usable": False}, status_code=410)
    if password != confirm:
        ctx = {"inv": inv, "usable": True, "token": token, "error": "The passwords differ."}
        return render(request, "invite.html", ctx, status_code=422)
    try:
        service.accept_link(db, settings, token, password)
    except (AccountError, PasswordPolicyError) as exc:
        ctx = {"inv": inv, "usable": True, "token": token, "error": str(exc)}
        return render(request, "invite.html", ctx, status_code=422)
    return redirect(request, "/login?next=/")
