"""The annotator API: list, create or invite, figures, deactivate."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from app.annotators import service
from app.annotators.routes import get_user
from app.annotators.schemas import AnnotatorCreate, AnnotatorCreated, AnnotatorOut, StatsOut
from app.annotators.stats import annotator_stats
from app.auth.passwords import PasswordPolicyError
from app.auth.service import AccountError
from app.auth.usernames import normalize_username
from app.deps import Admin, DbDep, SettingsDep
from app.projects.deps import ChosenProjectDep, chosen_project

router = APIRouter(prefix="/annotators", tags=["annotators"])


def _422(exc: Exception) -> HTTPException:
    return HTTPException(422, [{"field": "body", "message": str(exc)}])


@router.get("", response_model=list[AnnotatorOut])
def api_list(db: DbDep, principal: Admin, proj: ChosenProjectDep) -> list[AnnotatorOut]:
    return [
        AnnotatorOut(
            id=r.user.id,
            username=r.user.username,
            roles=sorted(r.user.roles),
            active=r.user.active,
            simulated=r.user.simulated,
            labels=r.labels,
        )
        for r in service.list_annotators(db, proj.id)
    ]


@router.post("", response_model=AnnotatorCreated, status_code=201)
def api_create(
    request: Request, db: DbDep, settings: SettingsDep, principal: Admin, body: AnnotatorCreate
) -> AnnotatorCreated:
    """With `password` the account is created now; without, an invitation link is returned."""
    proj = chosen_project(db, principal, body.project)
    try:
        if body.password:
            user = service.create_account(
                db, settings, body.username, body.password, set(body.roles), proj, principal.user.id
            )
            return AnnotatorCreated(id=user.id, username=user.username, invite_link=None)
        token = service.invite(
            db, settings, body.username, set(body.roles), proj, principal.user.id
        )
    except (AccountError, PasswordPolicyError) as exc:
        raise _422(exc) from exc
    link = str(request.base_url).rstrip("/") + f"/invite/{token}"
    return AnnotatorCreated(id=None, username=normalize_username(body.username), invite_link=link)


@router.get("/{user_id}/stats", response_model=StatsOut)
def api_stats(
    db: DbDep, settings: SettingsDep, principal: Admin, proj: ChosenProjectDep, user_id: int
) -> StatsOut:
    user = get_user(db, user_id)
    return StatsOut.of(user.id, proj.id, annotator_stats(db, proj.id, user.id, settings))


@router.post("/{user_id}/deactivate")
def api_deactivate(db: DbDep, principal: Admin, user_id: int) -> dict[str, int]:
    """Ends the account's sessions and releases its leased pairs at once; labels stay."""
    try:
        released = service.deactivate_annotator(db, get_user(db, user_id), principal.user.id)
    except AccountError as exc:
        raise _422(exc) from exc
    return {"released_leases": released}
