"""API shapes for annotators."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from app.annotators.figures import AnnotatorStats


class AnnotatorOut(BaseModel):
    id: int
    username: str
    roles: list[str]
    active: bool
    simulated: bool
    labels: int


class AnnotatorCreate(BaseModel):
    username: str = Field(max_length=64)
    roles: list[str] = ["evaluator"]
    password: str | None = Field(None, max_length=4096, description="Omit to get an invite link.")
    project: int | None = None


class AnnotatorCreated(BaseModel):
    id: int | None
    username: str
    invite_link: str | None


class DayCount(BaseModel):
    day: date
    labels: int


class StatsOut(BaseModel):
    user_id: int
    project_id: int
    labels: int
    per_day: list[DayCount]
    median_seconds: float | None
    gold_total: int
    gold_accuracy: float | None
    overlap_pairs: int
    agreement_with_majority: float | None
    side_picks: int
    left_share: float | None
    left_bias_p_value: float | None
    longer_share: float | None
    others_longer_share: float | None
    length_bias_p_value: float | None
    tie_share: float | None
    both_bad_share: float | None
    flags: dict[str, int]
    trust_flags: list[str]

    @classmethod
    def of(cls, user_id: int, project_id: int, s: AnnotatorStats) -> StatsOut:
        return cls(
            user_id=user_id,
            project_id=project_id,
            labels=s.labels,
            per_day=[DayCount(day=d, labels=n) for d, n in s.per_day],
            median_seconds=s.median_seconds,
            gold_total=s.gold_total,
            gold_accuracy=s.gold_accuracy,
            overlap_pairs=s.overlap_pairs,
            agreement_with_majority=s.agreement,
            side_picks=s.side_picks,
            left_share=s.left_share,
            left_bias_p_value=s.bias_p,
            longer_share=s.longer_share,
            others_longer_share=s.others_longer_share,
            length_bias_p_value=s.length_p,
            tie_share=s.tie_share,
            both_bad_share=s.both_bad_share,
            flags=s.flags,
            trust_flags=s.trust_flags,
        )
