"""Demonstrations: the answer an evaluator would want for a prompt, written from scratch or
edited from one of a pair's responses. One row per prompt and annotator (writing again
replaces the text and sends it back to review); reviewers accept or reject it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check, utcnow
from app.vocabulary import DemonstrationStatus, values

DEMONSTRATION_STATUSES = values(DemonstrationStatus)


class Demonstration(TimestampMixin, Base):
    __tablename__ = "demonstrations"
    __table_args__ = (
        CheckConstraint(enum_check("status", DEMONSTRATION_STATUSES), name="status"),
        UniqueConstraint("prompt_id", "user_id"),
        Index("ix_demonstrations_review", "project_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The pair it was written on (None: on the prompt alone) and the response it was edited
    # from (None: written from scratch); the diff view compares against the latter.
    pair_id: Mapped[int | None] = mapped_column(
        ForeignKey("pairs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    source_completion_id: Mapped[int | None] = mapped_column(
        ForeignKey("completions.id", ondelete="SET NULL"), nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DemonstrationStatus.pending)
    review_note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
