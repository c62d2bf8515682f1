"""The project a request is about, resolved once: visible to the caller, 404 otherwise.

`ProjectDep` takes the project from the path (`/…/{project_id}/…`); `ChosenProjectDep` from
the optional `?project=` of the admin pages (the caller's first project when absent), and
`ChosenProjectFormDep` from the optional `project` field of a form or upload.
`ProjectOrNoneDep` (`?project=`, the labelling page) and `ProjectIdOrNoneDep` (`?project_id=`,
the labelling API) are for evaluators, who may belong to no project yet: None then, not 404.
All of them go through `find_visible_project`, the one look-up.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Query
from sqlalchemy.orm import Session

from app.deps import DbDep, Principal, PrincipalDep
from app.models import Project
from app.projects.service import find_visible_project

NO_PROJECT = "No such project (an admin can create one under Projects)."
PROJECT_QUERY = "Project id (default: the caller's first)."


def chosen_project(db: Session, principal: Principal, project_id: int | None) -> Project:
    """The project named by `?project=`, else the caller's first project; 404 if none."""
    project = find_visible_project(db, principal.user, project_id)
    if project is None:
        raise HTTPException(404, NO_PROJECT)
    return project


def project_or_none(db: Session, principal: Principal, project_id: int | None) -> Project | None:
    """The project named (404 if the caller cannot see it), else the caller's first, else None."""
    project = find_visible_project(db, principal.user, project_id)
    if project is None and project_id is not None:
        raise HTTPException(404, "No such project.")
    return project


def _project_in_path(project_id: int, db: DbDep, principal: PrincipalDep) -> Project:
    project = find_visible_project(db, principal.user, project_id)
    if project is None:
        raise HTTPException(404, "No such project.")
    return project


def _project_in_query(
    db: DbDep,
    principal: PrincipalDep,
    project: Annotated[int | None, Query(description=PROJECT_QUERY)] = None,
) -> Project:
    return chosen_project(db, principal, project)


def _project_in_form(
    db: DbDep, principal: PrincipalDep, project: Annotated[int | None, Form()] = None
) -> Project:
    return chosen_project(db, principal, project)


def _optional_project(
    db: DbDep,
    principal: PrincipalDep,
    project: Annotated[int | None, Query(description=PROJECT_QUERY)] = None,
) -> Project | None:
    return project_or_none(db, principal, project)


def _optional_project_id(
    db: DbDep,
    principal: PrincipalDep,
    project_id: Annotated[int | None, Query(description=PROJECT_QUERY)] = None,
) -> Project | None:
    return project_or_none(db, principal, project_id)


ProjectDep = Annotated[Project, Depends(_project_in_path)]
ChosenProjectDep = Annotated[Project, Depends(_project_in_query)]
ChosenProjectFormDep = Annotated[Project, Depends(_project_in_form)]
ProjectOrNoneDep = Annotated[Project | None, Depends(_optional_project)]
ProjectIdOrNoneDep = Annotated[Project | None, Depends(_optional_project_id)]
