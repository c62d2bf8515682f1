"""Playground matches: one prompt answered by two contestants side by side, then one vote.

A contestant is a policy version of the project or an external model named in the
settings (PLAYGROUND_MODELS). A match is written when it starts; each answer is stored
once when its stream ends and the vote once when it is cast (never changed afterwards).
Battles (`source` battle) are blind: their votes count with the labelling page's
head-to-head judgements; named playground votes are kept apart (app.winrates).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check
from app.vocabulary import CHOICES, FinishReason, MatchSource, values

MATCH_SOURCES = values(MatchSource)
FINISH_REASONS = values(FinishReason)


class PlaygroundMatch(TimestampMixin, Base):
    __tablename__ = "playground_matches"
    __table_args__ = (
        CheckConstraint(enum_check("source", MATCH_SOURCES), name="source"),
        CheckConstraint("choice IS NULL OR " + enum_check("choice", CHOICES), name="choice"),
        CheckConstraint("version_a_id IS NOT NULL OR model_a IS NOT NULL", name="contestant_a"),
        CheckConstraint("version_b_id IS NOT NULL OR model_b IS NOT NULL", name="contestant_b"),
        CheckConstraint("(choice IS NULL) = (voted_at IS NULL)", name="vote_has_time"),
        # The leaderboard reads a project's votes by source.
        Index("ix_playground_matches_project_source", "project_id", "source", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    prompt_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompts.id", ondelete="SET NULL"), nullable=True
    )
    prompt_text: Mapped[str] = mapped_column(Text)
    version_a_id: Mapped[int | None] = mapped_column(
        ForeignKey("policy_versions.id", ondelete="CASCADE"), nullable=True
    )
    model_a: Mapped[str | None] = mapped_column(String(100), nullable=True)  # external model
    text_a: Mapped[str | None] = mapped_column(Text, nullable=True)  # None until streamed
    finish_a: Mapped[str | None] = mapped_column(String(8), nullable=True)
    version_b_id: Mapped[int | None] = mapped_column(
        ForeignKey("policy_versions.id", ondelete="CASCADE"), nullable=True
    )
    model_b: Mapped[str | None] = mapped_column(String(100), nullable=True)
    text_b: Mapped[str | None] = mapped_column(Text, nullable=True)
    finish_b: Mapped[str | None] = mapped_column(String(8), nullable=True)
    choice: Mapped[str | None] = mapped_column(String(16), nullable=True)
    voted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
