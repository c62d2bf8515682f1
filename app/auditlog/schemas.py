"""The audit log's filter (the page's query string and the API's) and its API shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field, model_validator


class AuditFilter(BaseModel):
    """Which events to list, newest first; every field optional."""

    actor: str = Field("", max_length=64, description="Username of who did it.")
    kind: str = Field(
        "", max_length=64, description="An action (`pair.gold`) or a family (`pair`)."
    )
    object: str = Field(
        "", max_length=200, description="A target (`pair:12`) or every one of a kind (`pair`)."
    )
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = Field(None, ge=1, description="Cursor: a page's `next_before`.")
    limit: int = Field(50, ge=1, le=200)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v not in ("", None)}
        return data

    @model_validator(mode="after")
    def _window(self) -> AuditFilter:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                setattr(self, name, value.replace(tzinfo=UTC))
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    def link(self, path: str, **changes: Any) -> str:
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.update(changes)
        query = {k: v for k, v in data.items() if v is not None and v != ""}
        return f"{path}?{urlencode(query)}"


class AuditEventOut(BaseModel):
    id: int
    created_at: datetime
    actor_id: int | None
    actor: str | None
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any]


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")
