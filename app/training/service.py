"""Training runs as ML staff see them: request, list, look up, cancel."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import jobs
from app.domain.audit import audit
from app.domain.project_settings import recipe_of
from app.models import Project, TrainingRun, User
from app.models.training import RUN_KINDS
from app.projects.service import find_visible_project, get_visible_project
from app.settings import Settings

PAGE_SIZE = 25
MAX_OVERRIDES = 50


class TrainingInputError(ValueError):
    """Bad input for a training request; the message is shown to the user."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class RunConflict(TrainingInputError):
    """The request is valid but the queue state refuses it (a run is already active)."""


def parse_overrides(text: str) -> dict[str, Any]:
    """`key=value` lines (values read as YAML scalars: 1e-5, true, null, "text")."""
    overrides: dict[str, Any] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainingInputError(
                f"Override line {number} must look like key=value: {line!r}", "overrides"
            )
        try:
            parsed = yaml.safe_load(value.strip()) if value.strip() else None
        except yaml.YAMLError:
            raise TrainingInputError(
                f"Override {key}: cannot read the value {value!r}", "overrides"
            ) from None
        if isinstance(parsed, dict):
            raise TrainingInputError(
                f"Override {key}: use a single value, not {value!r}", "overrides"
            )
        overrides[key] = parsed
    return overrides


def check_config(settings: Settings, recipe: str, overrides: dict[str, Any]) -> None:
    """Refuse an unknown recipe or a bad override now, not minutes later in the trainer.

    Overrides are typed by people: the model they name must be bundled, inside the model store
    or on the admin's TRAINING_MODEL_ALLOWLIST (recipe files, from the repository, are trusted).
    """
    from app.domain.recipe import ConfigError, ModelSources, available_recipes, load_recipe

    if len(overrides) > MAX_OVERRIDES:
        raise TrainingInputError(f"At most {MAX_OVERRIDES} overrides.", "overrides")
    if recipe not in available_recipes():
        raise TrainingInputError(
            f"Unknown recipe {recipe!r}; choose one of {', '.join(available_recipes())}.",
            "recipe",
        )
    sources = ModelSources.of(settings.resolved_model_dir, settings.training_model_allowlist)
    try:
        load_recipe(recipe, overrides, sources=sources)
    except ConfigError as exc:
        raise TrainingInputError(f"Bad override: {'; '.join(exc.problems)}", "overrides") from None


def resolve_project(db: Session, user: User | None, project: str | int | None) -> Project:
    """A project by id or name the user may see (any project for the CLI, user None)."""
    found = find_visible_project(db, user, project)
    if found is None:
        if project in (None, ""):
            raise TrainingInputError("There is no project yet.")
        raise TrainingInputError(f"No project {project!r} that you can see.", "project_id")
    return found


def request_run(
    db: Session,
    settings: Settings,
    project: str | int | None,
    user: User | None,
    *,
    kind: str = "full",
    recipe: str | None = None,
    overrides: dict[str, Any] | None = None,
    include_simulated: bool = False,
    trigger: str = "manual",
) -> TrainingRun:
    """Validate and enqueue a run (in the caller's transaction); audited."""
    if kind not in RUN_KINDS:
        raise TrainingInputError(
            f"Unknown run kind {kind!r}; use one of {', '.join(RUN_KINDS)}.", "kind"
        )
    target = resolve_project(db, user, project)
    recipe = recipe or recipe_of(target, settings)
    overrides = overrides or {}
    check_config(settings, recipe, overrides)
    config = {"overrides": overrides, "include_simulated": include_simulated}
    try:
        run = jobs.enqueue(
            db,
            settings,
            target.id,
            kind=kind,
            recipe=recipe,
            config=config,
            requested_by_id=user.id if user else None,
            trigger=trigger,
        )
    except jobs.JobError as exc:
        raise RunConflict(str(exc), "project_id") from None
    audit(db, "training.enqueued", user.id if user else None, f"training_run:{run.id}", kind=kind)
    return run


def list_runs(db: Session, project: Project, page: int = 1) -> tuple[list[TrainingRun], int]:
    """One page of the project's runs, newest first, and the total count."""
    total = db.scalar(
        select(func.count(TrainingRun.id)).where(TrainingRun.project_id == project.id)
    )
    runs = db.scalars(
        select(TrainingRun)
        .where(TrainingRun.project_id == project.id)
        .order_by(TrainingRun.id.desc())
        .offset((max(page, 1) - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return list(runs), int(total or 0)


def visible_run(db: Session, user: User, run_id: int) -> TrainingRun | None:
    """The run if its project is visible to the user, else None (→ 404)."""
    run = db.get(TrainingRun, run_id)
    if run is None or get_visible_project(db, user, run.project_id) is None:
        return None
    return run


MAX_COMPARED = 8


def runs_of_project(db: Session, project: Project, run_ids: list[int]) -> list[TrainingRun]:
    """The project's runs among `run_ids` (others ignored), by id; at most MAX_COMPARED."""
    wanted = sorted(set(run_ids))[:MAX_COMPARED]
    if not wanted:
        return []
    stmt = (
        select(TrainingRun)
        .where(TrainingRun.project_id == project.id, TrainingRun.id.in_(wanted))
        .order_by(TrainingRun.id)
    )
    return list(db.scalars(stmt))


def cancel_run(db: Session, run: TrainingRun, user: User) -> TrainingRun:
    """Cancel a queued run now, or ask the trainer to stop a running one; audited."""
    try:
        jobs.cancel(db, run)
    except jobs.JobError as exc:
        raise RunConflict(str(exc)) from None
    audit(db, "training.cancelled", user.id, f"training_run:{run.id}", status=run.status)
    return run
