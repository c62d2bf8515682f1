"""API shapes of training runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool | None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: int | None = Field(None, description="Default: your first project.")
    kind: Literal["full", "reward", "policy"] = "full"
    recipe: str | None = Field(None, max_length=100, description="Default: the configured one.")
    overrides: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description='Config fields by dotted key, e.g. {"policy.lr": 1e-5}.'
    )
    include_simulated: bool = False


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    kind: str
    recipe: str
    status: str
    trigger: str
    stage: str
    progress: float
    attempts: int
    cancel_requested: bool
    error: str | None
    watermark_comparison_id: int | None
    policy_version_id: int | None
    reward_model_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunDetail(RunOut):
    config: dict[str, Any]
    metrics: dict[str, Any]
    log: str


class RunPage(BaseModel):
    items: list[RunOut]
    total: int
    page: int
