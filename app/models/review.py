"""Adjudications: a reviewer's final label for a pair whose votes disagree (or that an
admin sent for review). One row per pair; a later decision replaces the earlier one and
the audit log keeps what it said."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check
from app.vocabulary import Choice, ReviewStatus, values

REVIEW_STATUSES = values(ReviewStatus)


class Adjudication(TimestampMixin, Base):
    __tablename__ = "adjudications"
    __table_args__ = (
        CheckConstraint(enum_check("status", REVIEW_STATUSES), name="status"),
        CheckConstraint("choice IS NULL OR " + enum_check("choice", values(Choice)), name="choice"),
        CheckConstraint(
            "(status = 'decided' AND choice IS NOT NULL)"
            " OR (status = 'pending' AND choice IS NULL)",
            name="decided_has_choice",
        ),
        Index("ix_adjudications_queue", "project_id", "status", "pair_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.pending)
    choice: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # Why it is in the queue when an admin sent it (shown to the reviewer).
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
