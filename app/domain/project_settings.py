"""A project's settings bag, typed: read with `settings_of`, written with `update_settings`.

`Project.settings` is a JSON column so that a new setting needs no migration; this module is
the only place that knows its shape. Values stored by older versions are read leniently
(unknown keys ignored, numbers given as strings accepted); writes are validated.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.models import Project

MAX_OVERLAP = 10
MAX_HELD_OUT_SHARE = 0.5

Overlap = Annotated[int, Field(ge=1, le=MAX_OVERLAP)]


class ProjectSettingsError(ValueError):
    """A setting outside what it accepts; the message names the setting."""


class ProjectSettings(BaseModel):
    """Everything kept in `Project.settings`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

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
        raise ProjectSettingsError(f"Project setting {where}: {first['msg']}.") from exc
    project.settings = {**(project.settings or {}), **new.model_dump(mode="json")}
    return new
