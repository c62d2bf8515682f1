"""The project API: list, create, change settings and guidelines."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.deps import Admin, DbDep, SettingsDep
from app.domain.project_settings import (
    MAX_HELD_OUT_SHARE,
    MAX_LABEL_CHANGE_WINDOW_MINUTES,
    MAX_OVERLAP,
    MAX_RANK_K,
    MIN_RANK_K,
    LoopSettings,
    loop_settings_of,
    settings_of,
)
from app.domain.retraining import schedule_of
from app.models import Project
from app.projects import manage
from app.projects.deps import ProjectDep
from app.projects.service import visible_projects
from app.settings import Settings

router = APIRouter(prefix="/projects", tags=["projects"])


class ProjectOut(BaseModel):
    id: int
    name: str
    description: str
    base_policy_model: str
    overlap: int
    overlap_by_tag: dict[str, int]
    gold_rate: float
    head_to_head_share: float
    flags: list[str]
    guidelines: str
    guidelines_version: int
    excluded_annotators: list[int]
    held_out_share: float
    ranking_k: int | None = Field(description="Answers ranked per task; none = pairs.")
    ranking_by_tag: dict[str, int] = Field(
        description="Answers ranked per task for prompts with a tag (the largest applies)."
    )
    label_change_window_minutes: int = Field(
        description="Minutes in which an evaluator may change or undo a label; 0 = never."
    )
    loop: LoopSettings

    @classmethod
    def of(cls, p: Project) -> ProjectOut:
        return cls(
            id=p.id,
            name=p.name,
            description=p.description,
            base_policy_model=p.base_policy_model,
            overlap=p.overlap,
            overlap_by_tag=settings_of(p).overlap_by_tag,
            gold_rate=p.gold_rate,
            head_to_head_share=p.head_to_head_share,
            flags=list(p.flags),
            guidelines=p.guidelines,
            guidelines_version=p.guidelines_version,
            excluded_annotators=list(settings_of(p).excluded_annotators),
            held_out_share=settings_of(p).held_out_share,
            ranking_k=settings_of(p).ranking_k,
            ranking_by_tag=settings_of(p).ranking_by_tag,
            label_change_window_minutes=settings_of(p).label_change_window_minutes,
            loop=loop_settings_of(p),
        )


class LoopIn(LoopSettings):
    """The whole of the loop's settings (a field left out takes its default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoopOut(LoopSettings):
    """The loop's settings and the schedule they give (blank ones filled from the deployment)."""

    schedule_every_labels: int = Field(description="Labels per automatic run in effect; 0 = off.")
    schedule_min_minutes: int = Field(description="Minutes between automatic runs in effect.")

    @classmethod
    def of(cls, project: Project, settings: Settings) -> LoopOut:
        schedule = schedule_of(project, settings)
        return cls(
            **loop_settings_of(project).model_dump(),
            schedule_every_labels=schedule.every_labels,
            schedule_min_minutes=schedule.min_minutes,
        )


class ProjectIn(BaseModel):
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)
    base_policy_model: str = Field("smollm2", max_length=300)
    overlap: int = Field(1, ge=1, le=MAX_OVERLAP)
    overlap_by_tag: dict[str, int] = {}
    gold_rate: float = Field(0.0, ge=0, le=0.5)
    head_to_head_share: float | None = Field(
        None, ge=0, le=0.5, description="Share of open pairs that meet an earlier version."
    )
    flags: list[str] = ["unsafe", "factually wrong", "off-topic", "low quality"]
    held_out_share: float | None = Field(
        None,
        ge=0,
        le=MAX_HELD_OUT_SHARE,
        description="Share of newly imported prompts held out for evaluation; omit to keep.",
    )
    ranking_k: int | None = Field(
        None,
        ge=0,
        le=MAX_RANK_K,
        description=f"0: evaluators compare pairs; {MIN_RANK_K}-{MAX_RANK_K}: they rank that "
        "many answers per prompt; omit to keep.",
    )
    ranking_by_tag: dict[str, int] | None = Field(
        None,
        description=f"Tag → answers ranked per task ({MIN_RANK_K}-{MAX_RANK_K}) for prompts "
        "with that tag; the rest follow ranking_k; omit to keep, {} for none.",
    )
    label_change_window_minutes: int | None = Field(
        None,
        ge=0,
        le=MAX_LABEL_CHANGE_WINDOW_MINUTES,
        description="Minutes after a label in which its evaluator may change or undo it; "
        "0: labels are final; omit to keep.",
    )

    def fields(self) -> manage.ProjectFields:
        bad = [t for t, n in self.overlap_by_tag.items() if not 1 <= n <= MAX_OVERLAP]
        if bad:
            raise manage.ProjectError(f"Overlap for tag {bad[0]!r} must be 1 to {MAX_OVERLAP}.")
        return manage.ProjectFields(
            name=self.name,
            description=self.description,
            base_policy_model=self.base_policy_model,
            overlap=self.overlap,
            gold_rate=self.gold_rate,
            head_to_head_share=self.head_to_head_share,
            flags=manage.parse_flags(", ".join(self.flags)),
            overlap_by_tag=self.overlap_by_tag,
            held_out_share=self.held_out_share,
            ranking_k=self.ranking_k,
            ranking_by_tag=self.ranking_by_tag,
            label_change_window_minutes=self.label_change_window_minutes,
        )


class GuidelinesIn(BaseModel):
    guidelines: str = Field(max_length=100_000)


def _422(exc: Exception) -> HTTPException:
    return HTTPException(422, [{"field": "body", "message": str(exc)}])


@router.get("", response_model=list[ProjectOut])
def api_list(db: DbDep, principal: Admin) -> list[ProjectOut]:
    return [ProjectOut.of(p) for p in visible_projects(db, principal.user)]


@router.post("", response_model=ProjectOut, status_code=201)
def api_create(db: DbDep, principal: Admin, body: ProjectIn) -> ProjectOut:
    try:
        return ProjectOut.of(manage.create_project(db, body.fields(), principal.user))
    except manage.ProjectError as exc:
        raise _422(exc) from exc


@router.put("/{project_id}", response_model=ProjectOut)
def api_update(db: DbDep, principal: Admin, project: ProjectDep, body: ProjectIn) -> ProjectOut:
    try:
        manage.update_project(db, project, body.fields(), principal.user.id)
    except manage.ProjectError as exc:
        raise _422(exc) from exc
    return ProjectOut.of(project)


@router.put("/{project_id}/guidelines", response_model=ProjectOut)
def api_guidelines(
    db: DbDep, principal: Admin, project: ProjectDep, body: GuidelinesIn
) -> ProjectOut:
    """New text becomes the next guidelines version; the same text changes nothing."""
    manage.set_guidelines(db, project, body.guidelines, principal.user.id)
    return ProjectOut.of(project)


@router.get("/{project_id}/loop", response_model=LoopOut)
def api_loop(db: DbDep, settings: SettingsDep, principal: Admin, project: ProjectDep) -> LoopOut:
    """Retraining schedule and promotion rule."""
    return LoopOut.of(project, settings)


@router.put("/{project_id}/loop", response_model=LoopOut)
def api_set_loop(
    db: DbDep, settings: SettingsDep, principal: Admin, project: ProjectDep, body: LoopIn
) -> LoopOut:
    """Replace the retraining schedule and promotion rule."""
    try:
        manage.set_loop_settings(db, project, body.model_dump(), principal.user.id)
    except manage.ProjectError as exc:
        raise _422(exc) from exc
    return LoopOut.of(project, settings)
