"""Project pages: admins create and configure projects; everyone reads their guidelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.deps import Admin, Authenticated, DbDep, Principal
from app.domain.project_settings import MAX_RANK_K, MIN_RANK_K, loop_settings_of, settings_of
from app.domain.recipe import available_recipes
from app.domain.retraining import schedule_of
from app.models import Project
from app.projects import manage
from app.projects.deps import ProjectDep
from app.projects.service import visible_projects
from app.web import redirect, render

router = APIRouter(tags=["projects"], include_in_schema=False)


def _fields(
    name: str,
    description: str,
    base_policy_model: str,
    overlap: int,
    gold_rate: float,
    flags: str,
    overlap_by_tag: str,
    head_to_head_share: float | None = None,
    held_out_share: float | None = None,
    ranking_k: int | None = None,
    ranking_by_tag: str | None = None,
    label_change_window_minutes: int | None = None,
) -> manage.ProjectFields:
    return manage.ProjectFields(
        name=name,
        description=description,
        base_policy_model=base_policy_model,
        overlap=overlap,
        gold_rate=gold_rate,
        flags=manage.parse_flags(flags),
        overlap_by_tag=manage.parse_overlap_by_tag(overlap_by_tag),
        head_to_head_share=head_to_head_share,
        held_out_share=held_out_share,
        ranking_k=ranking_k,
        ranking_by_tag=(
            None if ranking_by_tag is None else manage.parse_ranking_by_tag(ranking_by_tag)
        ),
        label_change_window_minutes=label_change_window_minutes,
    )


Text = Annotated[str, Form(max_length=2000)]


@router.get("/admin/projects")
def project_list(request: Request, db: DbDep, principal: Admin) -> Response:
    ctx = {"projects": visible_projects(db, principal.user), "project": None}
    return render(request, "admin/projects.html", ctx)


@router.post("/admin/projects")
def project_create(
    request: Request,
    db: DbDep,
    principal: Admin,
    name: Annotated[str, Form(max_length=200)],
    description: Text = "",
    base_policy_model: Annotated[str, Form(max_length=300)] = "smollm2",
    overlap: Annotated[int, Form()] = 1,
    gold_rate: Annotated[float, Form()] = 0.0,
    flags: Text = ", ".join(["unsafe", "factually wrong", "off-topic", "low quality"]),
    head_to_head_share: Annotated[float | None, Form()] = None,
) -> Response:
    try:
        fields = _fields(
            name, description, base_policy_model, overlap, gold_rate, flags, "", head_to_head_share
        )
        project = manage.create_project(db, fields, principal.user)
    except manage.ProjectError as exc:
        ctx = {"projects": visible_projects(db, principal.user), "project": None, "error": str(exc)}
        return render(request, "admin/projects.html", ctx, status_code=422)
    return redirect(request, f"/admin/projects/{project.id}")


def _detail(
    request: Request, db: Session, principal: Principal, project: Project, **extra: object
) -> Response:
    ctx = {
        "project": project,
        "projects": visible_projects(db, principal.user),
        "members": manage.members(db, project.id),
        "history": manage.guideline_history(db, project.id),
        "overlap_by_tag": settings_of(project).overlap_by_tag,
        "held_out_share": settings_of(project).held_out_share,
        "ranking_k": settings_of(project).ranking_k,
        "ranking_by_tag": settings_of(project).ranking_by_tag,
        "label_change_window_minutes": settings_of(project).label_change_window_minutes,
        "rank_sizes": range(MIN_RANK_K, MAX_RANK_K + 1),
        "loop": loop_settings_of(project),
        "schedule": schedule_of(project, request.app.state.settings),
        "recipes": available_recipes(),
        "default_recipe": request.app.state.settings.training_default_recipe,
        **extra,
    }
    return render(
        request, "admin/project.html", ctx, status_code=422 if extra.get("error") else 200
    )


@router.get("/admin/projects/{project_id}")
def project_detail(request: Request, db: DbDep, principal: Admin, project: ProjectDep) -> Response:
    return _detail(request, db, principal, project)


@router.post("/admin/projects/{project_id}")
def project_update(
    request: Request,
    db: DbDep,
    principal: Admin,
    project: ProjectDep,
    name: Annotated[str, Form(max_length=200)],
    description: Text = "",
    base_policy_model: Annotated[str, Form(max_length=300)] = "smollm2",
    overlap: Annotated[int, Form()] = 1,
    gold_rate: Annotated[float, Form()] = 0.0,
    flags: Text = "",
    overlap_by_tag: Text = "",
    head_to_head_share: Annotated[float | None, Form()] = None,
    held_out_share: Annotated[float | None, Form()] = None,
    ranking_k: Annotated[int | None, Form(description="0: pairs; 3-6: rank that many")] = None,
    ranking_by_tag: Annotated[str | None, Form(max_length=2000)] = None,
    label_change_window_minutes: Annotated[int | None, Form(ge=0)] = None,
) -> Response:
    try:
        fields = _fields(
            name,
            description,
            base_policy_model,
            overlap,
            gold_rate,
            flags,
            overlap_by_tag,
            head_to_head_share,
            held_out_share,
            ranking_k,
            ranking_by_tag,
            label_change_window_minutes,
        )
        manage.update_project(db, project, fields, principal.user.id)
    except manage.ProjectError as exc:
        db.rollback()
        return _detail(request, db, principal, project, error=str(exc))
    return redirect(request, f"/admin/projects/{project.id}")


def _optional_count(label: str, text: str) -> int | None:
    """A form's whole number, blank meaning "the deployment's default"."""
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise manage.ProjectError(
            f"{label}: a whole number of 0 or more, or blank for the default."
        )
    return int(text)


@router.post("/admin/projects/{project_id}/loop")
def project_loop(
    request: Request,
    db: DbDep,
    principal: Admin,
    project: ProjectDep,
    retrain_every_labels: Annotated[str, Form(max_length=20)] = "",
    retrain_min_minutes: Annotated[str, Form(max_length=20)] = "",
    train_on_simulated: Annotated[bool, Form()] = False,
    promotion: Annotated[str, Form(max_length=20)] = "auto",
    trial_share: Annotated[float, Form()] = 0.25,
    trial_votes: Annotated[int, Form()] = 30,
    trial_max_votes: Annotated[int, Form()] = 90,
    recipe: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Retraining schedule and promotion rule (the "Training loop" form)."""
    try:
        changes = {
            "retrain_every_labels": _optional_count("Retrain every", retrain_every_labels),
            "retrain_min_minutes": _optional_count("At most every", retrain_min_minutes),
            "train_on_simulated": train_on_simulated,
            "promotion": promotion,
            "trial_share": trial_share,
            "trial_votes": trial_votes,
            "trial_max_votes": trial_max_votes,
            "recipe": recipe or None,
        }
        manage.set_loop_settings(db, project, changes, principal.user.id)
    except manage.ProjectError as exc:
        return _detail(request, db, principal, project, error=str(exc))
    return redirect(request, f"/admin/projects/{project.id}")


@router.post("/admin/projects/{project_id}/guidelines")
def project_guidelines(
    request: Request,
    db: DbDep,
    principal: Admin,
    project: ProjectDep,
    guidelines: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    manage.set_guidelines(db, project, guidelines, principal.user.id)
    return redirect(request, f"/admin/projects/{project.id}")


@router.post("/admin/projects/{project_id}/members")
def member_add(
    request: Request,
    db: DbDep,
    principal: Admin,
    project: ProjectDep,
    username: Annotated[str, Form(max_length=200)],
) -> Response:
    try:
        manage.add_member_by_name(db, project, username, principal.user.id)
    except manage.ProjectError as exc:
        return _detail(request, db, principal, project, error=str(exc))
    return redirect(request, f"/admin/projects/{project.id}")


@router.post("/admin/projects/{project_id}/members/{user_id}/remove")
def member_remove(
    request: Request, db: DbDep, principal: Admin, project: ProjectDep, user_id: int
) -> Response:
    manage.remove_member(db, project, user_id, principal.user.id)
    return redirect(request, f"/admin/projects/{project.id}")


@router.get("/guidelines")
def guidelines_page(request: Request, db: DbDep, principal: Authenticated) -> Response:
    """The labelling guidelines of every project the caller belongs to."""
    return render(request, "guidelines.html", {"projects": visible_projects(db, principal.user)})
