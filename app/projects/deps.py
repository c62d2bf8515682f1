"""Look-ups shared by the admin pages: the project being worked on, 404 when missing."""

from __future__ import annotations

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import Principal
from app.models import Project
from app.projects.service import get_visible_project, visible_projects


def chosen_project(db: Session, principal: Principal, project_id: int | None) -> Project:
    """The project named by `?project=`, else the caller's first project; 404 if none."""
    if project_id is not None:
        project = get_visible_project(db, principal.user, project_id)
    else:
        projects = visible_projects(db, principal.user)
        project = projects[0] if projects else None
    if project is None:
        raise HTTPException(404, "No such project (an admin can create one under Projects).")
    return project


def project_by_name(db: Session, name: str | None) -> Project:
    """For the command line: the named project, or the only one when there is one."""
    if name:
        project = db.scalar(select(Project).where(Project.name == name))
        if project is None:
            raise LookupError(f"no project named {name!r}")
        return project
    projects = list(db.scalars(select(Project).order_by(Project.id).limit(2)))
    if len(projects) != 1:
        raise LookupError(
            "no project yet" if not projects else "several projects: name one with --project"
        )
    return projects[0]
