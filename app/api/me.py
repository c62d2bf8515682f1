"""The caller's own account through the API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import Authenticated, DbDep
from app.projects.service import visible_projects

router = APIRouter(tags=["account"])


class ProjectOut(BaseModel):
    id: int
    name: str


class MeOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    projects: list[ProjectOut]
    created_at: datetime


@router.get("/me", response_model=MeOut)
def me(db: DbDep, principal: Authenticated) -> MeOut:
    user = principal.user
    projects = [ProjectOut(id=p.id, name=p.name) for p in visible_projects(db, user)]
    return MeOut(
        id=user.id,
        username=user.username,
        roles=sorted(user.roles),
        projects=projects,
        created_at=user.created_at,
    )
