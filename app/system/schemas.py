"""What `/system` and `GET /api/v1/system` show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class WorkerOut(BaseModel):
    id: str
    kind: str
    seen_at: datetime
    age_seconds: float
    alive: bool
    state: str
    tokens_per_s: float | None
    pairs_made: int | None
    last_error: str | None
    last_error_at: str | None


class ProjectSamplingOut(BaseModel):
    id: int
    name: str
    active_version: int | None
    buffer_depth: int
    head_to_head_depth: int = Field(
        description="Open pairs of the active version against an earlier one."
    )
    pair_buffer: int
    samplers_alive: int
    tokens_per_s: float
    last_error: str | None


class SystemOut(BaseModel):
    generated_at: datetime
    workers: list[WorkerOut]
    projects: list[ProjectSamplingOut]
