"""The leaderboard as the API returns it and the page shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

EvaluatorFilter = Literal["all", "human", "simulated"]
# Which votes: "blind" (labelled head-to-head pairs and anonymous battles) or "playground"
# (the playground's named votes: the voter knew which version wrote which).
VoteSource = Literal["blind", "playground"]


class ExternalTally(BaseModel):
    """Playground votes between a version and an external model (PLAYGROUND_MODELS)."""

    version_id: int
    number: int
    model: str
    wins: int = Field(description="Votes for the version.")
    losses: int = Field(description="Votes for the external model.")
    ties: int
    both_bad: int


class DirectWinRate(BaseModel):
    """Win share in direct comparisons against the reference version, ties counting half."""

    comparisons: int
    score: float = Field(description="Wins plus half the ties.")
    rate: float
    low: float
    high: float


class VersionRating(BaseModel):
    version_id: int
    number: int
    status: str
    comparisons: int = Field(description="Head-to-head judgements involving this version.")
    rating: float | None = Field(
        description="Bradley–Terry log-strength, reference version = 0; None without data."
    )
    rating_low: float | None
    rating_high: float | None
    win_probability: float | None = Field(
        description="Modelled probability of beating the reference version."
    )
    win_probability_low: float | None
    win_probability_high: float | None
    vs_reference: DirectWinRate | None


class LeaderboardOut(BaseModel):
    project_id: int
    reference_version_id: int | None
    reference_number: int | None
    evaluators: EvaluatorFilter
    source: VoteSource = Field(
        "blind",
        description="blind: labelled head-to-head pairs and anonymous battles; playground: "
        "the playground's named votes, counted apart.",
    )
    comparisons: int = Field(description="Head-to-head judgements used (a, b or tie).")
    both_bad_excluded: int
    level: float = Field(description="Confidence level of every interval.")
    bootstrap_samples: int
    versions: list[VersionRating] = Field(description="Every version, by number.")
    win_rates: list[list[float | None]] = Field(
        description="win_rates[r][c]: share of wins of versions[r] against versions[c]."
    )
    counts: list[list[int]] = Field(description="counts[r][c]: comparisons between the two.")
    external: list[ExternalTally] = Field(
        default_factory=list,
        description="Playground votes against external models (source playground only).",
    )
    as_of: datetime | None = Field(
        None,
        description="When these figures were computed (kept per project, refreshed after "
        "new head-to-head votes).",
    )
    current: bool = Field(
        True, description="False when votes arrived since; a refresh is under way."
    )
