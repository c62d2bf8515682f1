"""A project's settings bag, typed: read with `settings_of`, written with `update_settings`.

`Project.settings` is a JSON column so that a new setting needs no migration; this module is
the only place that knows its shape. Values stored by older versions are read leniently
(unknown keys ignored, numbers given as strings accepted); writes are validated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.domain.recipe import available_recipes
from app.models import Project

if TYPE_CHECKING:
    from app.settings import Settings

MAX_OVERLAP = 10
MAX_HELD_OUT_SHARE = 0.5
MIN_RANK_K, MAX_RANK_K = 3, 6
MAX_LABEL_CHANGE_WINDOW_MINUTES = 10_080  # a week

Overlap = Annotated[int, Field(ge=1, le=MAX_OVERLAP)]
RankSize = Annotated[int, Field(ge=MIN_RANK_K, le=MAX_RANK_K)]


class ProjectSettingsError(ValueError):
    """A setting outside what it accepts; the message names the setting."""


class LoopSettings(BaseModel):
    """The loop's part of the settings: automatic retraining and how a version goes live."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    retrain_every_labels: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="Enqueue a run after this many new usable labels; 0 = off; "
        "none = the deployment's RETRAIN_EVERY_LABELS.",
    )
    retrain_min_minutes: int | None = Field(
        None,
        ge=0,
        le=10_080,
        description="At most one automatic run per this many minutes; "
        "none = the deployment's RETRAIN_MIN_INTERVAL_MINUTES.",
    )
    train_on_simulated: bool = Field(
        False,
        description="Count simulated evaluators' labels toward the schedule and train the "
        "scheduled runs on them (for demos and benchmarks; off for real projects).",
    )
    promotion: Literal["auto", "human_trial"] = Field(
        "auto",
        description="`auto`: a candidate whose gates pass goes live; `human_trial`: it goes on "
        "trial against the live version and evaluators' head-to-head votes decide.",
    )
    trial_share: float = Field(
        0.25, ge=0.05, le=0.5, description="Share of open pairs that are trial pairs."
    )
    trial_votes: int = Field(
        30, ge=5, le=10_000, description="Judged trial votes before the first decision."
    )
    trial_max_votes: int = Field(
        90, ge=5, le=100_000, description="Judged votes after which an undecided trial fails."
    )
    recipe: str | None = Field(
        None,
        description="Recipe of the project's scheduled runs and of runs enqueued for it "
        "without one; none = the deployment's TRAINING_DEFAULT_RECIPE.",
    )

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str | None) -> str | None:
        if value is not None and value not in available_recipes():
            raise ValueError(f"no recipe {value!r}; available: {', '.join(available_recipes())}")
        return value

    @model_validator(mode="after")
    def _trial_bounds(self) -> LoopSettings:
        if self.trial_max_votes < self.trial_votes:
            raise ValueError(
                f"trial_max_votes ({self.trial_max_votes}) must be at least "
                f"trial_votes ({self.trial_votes})"
            )
        return self


class ProjectSettings(LoopSettings):
    """Everything kept in `Project.settings`."""

    excluded_annotators: tuple[int, ...] = Field(
        (), description="Annotators whose labels are left out of training and export."
    )
    overlap_by_tag: dict[str, Overlap] = Field(
        default_factory=dict, description="Labels each pair needs, raised for prompts with a tag."
    )
    held_out_share: float = Field(
        0.0,
        ge=0,
        le=MAX_HELD_OUT_SHARE,
        description="Share of newly imported prompts held out for evaluation (never labelled "
        "or trained on); a record's own `held_out` field wins.",
    )
    ranking_k: int | None = Field(
        None,
        ge=MIN_RANK_K,
        le=MAX_RANK_K,
        description="Ask evaluators to rank this many completions per prompt instead of "
        "comparing a pair; none = pairs.",
    )
    ranking_by_tag: dict[str, RankSize] = Field(
        default_factory=dict,
        description="Answers ranked per task for prompts with a tag (the largest of a "
        "prompt's tags applies); prompts with none of them follow `ranking_k`.",
    )

    label_change_window_minutes: int = Field(
        10,
        ge=0,
        le=MAX_LABEL_CHANGE_WINDOW_MINUTES,
        description="Minutes after a label in which its evaluator may change or undo it (a new "
        "comparison supersedes the old one); 0 = labels are final once given.",
    )

    def answers_per_task(self, tags: Iterable[str]) -> int:
        """Completions the sampler makes for one task of a prompt with `tags`: the largest
        per-tag ranking size, else the project's ranking size, else 2 (a pair)."""
        sizes = [self.ranking_by_tag[t] for t in tags if t in self.ranking_by_tag]
        return max(sizes) if sizes else self.ranking_k or 2


LOOP_FIELDS = frozenset(LoopSettings.model_fields)


def settings_of(project: Project) -> ProjectSettings:
    """The project's settings; a stored value that no longer validates reads as the default."""
    stored: dict[str, Any] = dict(project.settings or {})
    try:
        return ProjectSettings.model_validate(stored)
    except ValidationError:
        valid = {}
        for name in ProjectSettings.model_fields:
            if name in stored:
                try:
                    ProjectSettings.model_validate({name: stored[name]})
                except ValidationError:
                    continue
                valid[name] = stored[name]
        return ProjectSettings.model_validate(valid)


def loop_settings_of(project: Project) -> LoopSettings:
    """Only the loop's settings of the project."""
    return LoopSettings.model_validate(settings_of(project).model_dump(include=set(LOOP_FIELDS)))


def recipe_of(project: Project, settings: Settings) -> str:
    """The recipe a run of this project uses when none is named: the project's, else the
    deployment's default."""
    return settings_of(project).recipe or settings.training_default_recipe


def update_settings(project: Project, **changes: Any) -> ProjectSettings:
    """Validate `changes` against the current settings and store the result (a new dict, so
    the JSON column sees the change). Raises ProjectSettingsError naming the bad setting."""
    unknown = sorted(set(changes) - set(ProjectSettings.model_fields))
    if unknown:
        raise ProjectSettingsError(f"Unknown project setting {unknown[0]!r}.")
    merged = {**settings_of(project).model_dump(), **changes}
    try:
        new = ProjectSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        if not where:  # a rule across settings (a model validator) names them itself
            raise ProjectSettingsError(f"Project settings: {message}.") from exc
        raise ProjectSettingsError(f"Project setting {where}: {message}.") from exc
    project.settings = {**(project.settings or {}), **new.model_dump(mode="json")}
    return new
