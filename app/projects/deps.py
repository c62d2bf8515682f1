"""The project a request is about, resolved once: visible to the caller, 404 otherwise.

`ProjectDep` takes the project from the path (`/…/{project_id}/…`); `ChosenProjectDep` from
the optional `?project=` of the admin pages (the caller's first project when absent).
Both go through `find_visible_project`, the one look-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.deps import DbDep, Principal, PrincipalDep
from app.models import Project
from app.projects.service import find_visible_project

NO_PROJECT = "No such project (an admin can create one under Projects)."


def chosen_project(db: Session, principal: Principal, project_id: int | None) -> Project:
    """The project named by `?project=`, else the caller's first project; 404 if none."""
    project = find_visible_project(db, principal.user, project_id)
    if project is None:
        raise HTTPException(404, NO_PROJECT)
    return project


def _project_in_path(project_id: int, db: DbDep, principal: PrincipalDep) -> Project:
    project = find_visible_project(db, principal.user, project_id)
    if project is None:
        raise HTTPException(404, "No such project.")
    return project


def _project_in_query(db: DbDep, principal: PrincipalDep, project: int | None = None) -> Project:
    return chosen_project(db, principal, project)


ProjectDep = Annotated[Project, Depends(_project_in_path)]
ChosenProjectDep = Annotated[Project, Depends(_project_in_query)]


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
