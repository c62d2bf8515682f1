"""Shapes of a labelling task and of a judgement, shared by the page and the JSON API.

Choices are in *screen* terms (`left`/`right`): the server maps them to the stored
completion a/b through the assignment's `left_side`, so a client never needs to know
which completion is which. Strength is optional for left/right (stored as NULL,
meaning "not given") and refused for tie/both_bad.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

SCREEN_CHOICES = ("left", "right", "tie", "both_bad")
RATIONALE_MAX_CHARS = 5000
SKIP_REASONS = (
    "I cannot judge this topic",
    "The prompt is unclear or broken",
    "Offensive content I will not review",
    "Other",
)


class Remarks(BaseModel):
    """The free text and flags a judgement may carry."""

    rationale: str = Field("", max_length=RATIONALE_MAX_CHARS)
    flags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("rationale")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class PairChoice(BaseModel):
    """A pair's choice in screen terms, with its optional strength (only for a winner)."""

    choice: Literal["left", "right", "tie", "both_bad"]
    strength: Literal["slight", "clear", "much"] | None = None

    @field_validator("strength")
    @classmethod
    def _strength_only_for_a_winner(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("choice") in ("tie", "both_bad"):
            raise ValueError("strength applies only when one response is better; leave it empty")
        return value


class JudgementIn(Remarks):
    """What every judgement carries, a pair's choice or a ranking."""

    assignment_id: int = Field(ge=1)
    decision_ms: int | None = Field(
        None,
        ge=0,
        le=86_400_000,
        description="The client's own measure, stored as `client_decision_ms`; the figures "
        "use the server's time from lease to submission.",
    )
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$"
    )


class SubmitIn(JudgementIn, PairChoice):
    """A judgement of a leased pair."""


class ChangeIn(Remarks, PairChoice):
    """A change of mind on one of the caller's labels: the whole new judgement, in screen
    terms of the same lease (`left_side` in the history says which completion was left)."""


def choice_form(
    choice: str, strength: str, rationale: str, flags: list[str] | None
) -> dict[str, Any]:
    """A page form's choice fields as `SubmitIn` and `ChangeIn` read them (an empty strength
    is none given, no box ticked is no flags)."""
    return {
        "choice": choice,
        "strength": strength or None,
        "rationale": rationale,
        "flags": flags or [],
    }


class RankIn(JudgementIn):
    ranking: str = Field(
        min_length=3,
        max_length=200,
        pattern=r"^[0-9]+([,=][0-9]+)*$",
        description="The task's completion ids best first: `,` between places, `=` between "
        "tied ones (`12,15=17,13`).",
    )


class SkipIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("give a reason for skipping")
        return value.strip()


class TurnOut(BaseModel):
    role: str
    content: str


class PromptOut(BaseModel):
    id: int
    text: str
    messages: list[TurnOut] | None


class RankItemOut(BaseModel):
    id: int = Field(description="The completion id to use in a ranking.")
    text: str
    cut_off: bool


class PairOut(BaseModel):
    assignment_id: int
    pair_id: int
    project_id: int
    prompt: PromptOut
    left: str
    right: str
    left_cut_off: bool = Field(
        description="True when the token limit ended the left response before the model did."
    )
    right_cut_off: bool = Field(description="The same for the right response.")
    expires_at: datetime
    idempotency_key: str
    flags: list[str]
    guidelines_version: int
    ranking: list[RankItemOut] | None = Field(
        None,
        description="A ranking task's responses in the order to show them (`left` and `right` "
        "are two of them): answer with `POST /rankings`, not `/comparisons`.",
    )


class NextOut(BaseModel):
    pair: PairOut | None
    message: str = ""


class ComparisonOut(BaseModel):
    id: int
    pair_id: int
    assignment_id: int
    choice: str = Field(description="Stored in terms of completion a/b, not screen sides.")
    strength: str | None
    rationale: str
    flags: list[str]
    decision_ms: int | None = Field(
        description="Milliseconds from the lease to the submission, measured by the server."
    )
    client_decision_ms: int | None = Field(description="What the client reported, if anything.")
    guidelines_version: int
    idempotency_key: str
    replayed: bool = Field(description="True when this answers a retry of a stored submission.")
    next: NextOut | None = Field(
        None,
        description="With `?next=true`: the caller's next pair in the same project, exactly what "
        "`GET /pairs/next` would answer now (one round trip per label).",
    )


class LeaseOut(BaseModel):
    assignment_id: int
    status: str
    expires_at: datetime


class HistoryItemOut(BaseModel):
    id: int = Field(description="The comparison id: change it with `POST .../{id}/change`.")
    project_id: int
    pair_id: int
    prompt: str
    choice: str = Field(description="In screen terms (left/right/tie/both_bad) of the lease.")
    stored_choice: str = Field(description="In terms of completion a/b.")
    left_side: str = Field(description="Which completion (a or b) was shown on the left.")
    strength: str | None
    rationale: str
    flags: list[str]
    created_at: datetime
    supersedes_id: int | None = Field(description="The label this one changed, if any.")
    changeable_until: datetime | None = Field(
        description="Until when it may be changed or undone; none: it is final."
    )


class HistoryPageOut(BaseModel):
    items: list[HistoryItemOut]
    next_before: int | None = Field(description="Pass as `before` for the next page.")


class UndoOut(BaseModel):
    undone: int = Field(description="The comparison withdrawn (kept, marked superseded).")
    pair: PairOut = Field(description="Its pair, leased back to you: label it again.")
