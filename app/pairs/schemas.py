"""The data browser's one filter model (the page's query string, the API's query, the bulk
form) and the API's shapes, read from the service's views (`from_attributes`)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from pydantic import AliasPath, BaseModel, ConfigDict, Field, model_validator

from app.projects.deps import PROJECT_QUERY
from app.vocabulary import Agreement, PairKind, PairStatus

PAGE_SIZE_MAX = 200


class PairSort(StrEnum):
    newest = "newest"
    oldest = "oldest"
    margin_asc = "margin_asc"  # pairs with a reward-model margin only
    margin_desc = "margin_desc"


MARGIN_SORTS = (PairSort.margin_asc, PairSort.margin_desc)


class PairFilter(BaseModel):
    """Which pairs to list (or act on in bulk); every field optional, empty means any."""

    project: int | None = Field(None, description=PROJECT_QUERY)
    versions: list[int] = Field(
        [], max_length=50, description="Policy version numbers; either completion's version."
    )
    kind: PairKind | None = None
    status: PairStatus | None = None
    agreement: Agreement | None = None
    flag: str = Field("", max_length=100, description="A content flag some vote carries.")
    annotator: str = Field("", max_length=64, description="Username of someone who voted.")
    since: datetime | None = Field(None, description="A vote on or after this time.")
    until: datetime | None = Field(None, description="A vote before this time.")
    q: str = Field("", max_length=500, description="Text in the prompt.")
    meta: str = Field(
        "", max_length=300, description="Prompt metadata: `key=value`, or `key` (has it)."
    )
    has_rationale: bool | None = Field(None, description="Some vote gives a reason (or none).")
    margin_min: float | None = Field(None, description="Reward-model margin at least this.")
    margin_max: float | None = Field(None, description="Reward-model margin at most this.")
    sort: PairSort = PairSort.newest
    after: str | None = Field(None, max_length=80, description="Cursor: a page's `next`.")
    limit: int = Field(50, ge=1, le=PAGE_SIZE_MAX)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # An HTML form sends every field; an empty one means "any".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v not in ("", [""], None)}
        return data

    @model_validator(mode="after")
    def _ranges(self) -> PairFilter:
        if (
            self.margin_min is not None
            and self.margin_max is not None
            and self.margin_min > self.margin_max
        ):
            raise ValueError("margin_min must not be above margin_max")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                setattr(self, name, value.replace(tzinfo=UTC))
        return self

    def query(self, **changes: Any) -> dict[str, Any]:
        """The filter as query parameters (for links: next page, another sort)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.update(changes)
        return {k: v for k, v in data.items() if v is not None and v != ""}

    def link(self, path: str, **changes: Any) -> str:
        """`path` with this filter (and `changes`) as its query string."""
        return f"{path}?{urlencode(self.query(**changes), doseq=True)}"


def _of(owner: str, name: str) -> Any:
    """A field read from the view's `owner.name` (the view's row: its pair, completion…)."""
    return Field(validation_alias=AliasPath(owner, name))


class PairRowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from a service.PairRow

    id: int = _of("pair", "id")
    kind: PairKind = _of("pair", "kind")
    status: PairStatus = _of("pair", "status")
    prompt_id: int = _of("pair", "prompt_id")
    prompt: str
    version_a: int
    version_b: int
    votes: int
    choices: dict[str, int]
    agreement: Agreement | None
    reward_margin: float | None = _of("pair", "reward_margin")
    created_at: datetime = _of("pair", "created_at")


class PairPageOut(BaseModel):
    items: list[PairRowOut]
    next: str | None = Field(description="Pass as `after` for the next page.")


class CompletionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from a service.CompletionView

    id: int = _of("completion", "id")
    version: int
    text: str = _of("completion", "text")
    sampling: dict[str, Any] = _of("completion", "sampling")
    prompt_tokens: int = _of("completion", "prompt_tokens")
    completion_tokens: int = _of("completion", "completion_tokens")
    cut_off: bool | None = Field(description="Stopped at the token limit; None if unrecorded.")


class VoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # from a service.Vote

    id: int = _of("comparison", "id")
    annotator_id: int = _of("comparison", "user_id")
    annotator: str
    left_side: str | None
    choice: str = _of("comparison", "choice")
    strength: str | None = _of("comparison", "strength")
    rationale: str = _of("comparison", "rationale")
    flags: list[str] = _of("comparison", "flags")
    decision_ms: int | None = _of("comparison", "decision_ms")
    created_at: datetime = _of("comparison", "created_at")


class AdjudicationOut(BaseModel):
    status: str
    choice: str | None
    note: str
    reason: str
    decided_by: str | None
    decided_at: datetime | None


class PairDetailOut(BaseModel):
    id: int
    project_id: int
    kind: PairKind
    status: PairStatus
    gold_choice: str | None
    labels_required: int
    labels_received: int
    reward_margin: float | None
    prompt: str
    messages: list[dict[str, Any]] | None
    a: CompletionOut
    b: CompletionOut
    votes: list[VoteOut]
    agreement: Agreement | None
    adjudication: AdjudicationOut | None
