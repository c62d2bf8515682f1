"""Projects and membership: every object lookup goes through what the caller may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.orm import Session

from app.models import Project, ProjectMember, User

DEFAULT_PROJECT = "default"


def ensure_default_project(db: Session, base_policy_model: str) -> Project:
    project = db.scalar(select(Project).where(Project.name == DEFAULT_PROJECT))
    if project is None:
        project = Project(
            name=DEFAULT_PROJECT,
            description="Created by `pairwise demo`.",
            base_policy_model=base_policy_model,
        )
        db.add(project)
        db.flush()
    return project


def add_member(db: Session, project: Project, user: User) -> None:
    if db.get(ProjectMember, (project.id, user.id)) is None:
        db.add(ProjectMember(project_id=project.id, user_id=user.id))
        db.flush()


def visible_to(user: User) -> ColumnElement[bool]:
    """The visibility rule as SQL on `Project.id`: admins see every project, everyone else the
    projects they are members of (for a query that checks it in the same round trip)."""
    if "admin" in user.roles:
        return true()
    return exists().where(ProjectMember.project_id == Project.id, ProjectMember.user_id == user.id)


def visible_projects(db: Session, user: User) -> list[Project]:
    """Admins see every project; everyone else the projects they are members of."""
    return list(db.scalars(select(Project).where(visible_to(user)).order_by(Project.id)))


def find_visible_project(
    db: Session, user: User | None, ref: int | str | None = None
) -> Project | None:
    """The one project look-up: by id, or by name (the CLI, the run form), among the projects
    `user` may see (every project for user None, the command line); with no `ref`, the first
    such project. None when there is no such project."""
    if ref in (None, ""):
        if user is None:
            return db.scalar(select(Project).order_by(Project.id).limit(1))
        return db.scalar(select(Project).where(visible_to(user)).order_by(Project.id).limit(1))
    if isinstance(ref, int) and user is not None:  # an id from a route: one query
        return db.scalar(select(Project).where(Project.id == ref, visible_to(user)))
    project = None
    if isinstance(ref, int) or str(ref).isdigit():
        project = db.get(Project, int(ref))
    if project is None and isinstance(ref, str):
        project = db.scalar(select(Project).where(Project.name == ref))
    if project is None or user is None:
        return project
    return get_visible_project(db, user, project.id)


def command_line_project(db: Session, ref: str | None) -> Project:
    """`--project` of a command: the project with that id or name, else the only project;
    LookupError saying why when there is none (or several to choose from)."""
    project = find_visible_project(db, None, ref)
    if project is None:
        raise LookupError(f"no project named {ref!r}" if ref else "no project yet")
    if not ref and (db.scalar(select(func.count(Project.id))) or 0) > 1:
        raise LookupError("several projects: name one with --project")
    return project


def get_visible_project(db: Session, user: User, project_id: int) -> Project | None:
    """The project if the user may see it, else None (the caller answers 404); the rule of
    `visible_to`, through the identity map."""
    project = db.get(Project, project_id)
    if project is None:
        return None
    if "admin" in user.roles or db.get(ProjectMember, (project_id, user.id)) is not None:
        return project
    return None
