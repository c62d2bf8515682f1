"""Ranking tasks: a pair row that carries K completions, and the rankings evaluators give.

A ranking task is a `Pair` (so leases, overlap, gold and the label counts are the pair's)
whose `ranking_items` list all K completions, a and b among them. An evaluator's ranking is
stored beside the comparison that submission writes for it (the a-versus-b judgement the
ranking implies), one row per judgement, never edited in place.
"""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class RankingItem(Base):
    __tablename__ = "ranking_items"
    __table_args__ = (
        UniqueConstraint("pair_id", "completion_id"),
        UniqueConstraint("pair_id", "position"),
        CheckConstraint("position >= 0", name="position_nonnegative"),
        CheckConstraint("gold_rank IS NULL OR gold_rank >= 1", name="gold_rank_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    completion_id: Mapped[int] = mapped_column(ForeignKey("completions.id", ondelete="CASCADE"))
    # Order of sampling (0 = completion a, 1 = completion b); the page shuffles per lease.
    position: Mapped[int] = mapped_column(Integer)
    # A gold ranking task's known answer: 1 is best, equal numbers are ties.
    gold_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Ranking(TimestampMixin, Base):
    __tablename__ = "rankings"
    __table_args__ = (
        UniqueConstraint("pair_id", "user_id"),
        Index("ix_rankings_project_pair", "project_id", "pair_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    comparison_id: Mapped[int] = mapped_column(
        ForeignKey("comparisons.id", ondelete="CASCADE"), unique=True
    )
    # Completion ids best first, in tiers: [[12], [15, 17], [13]] ties 15 and 17.
    tiers: Mapped[list[list[int]]] = mapped_column(JSON)
