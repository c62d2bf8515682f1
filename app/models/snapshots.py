"""Figures computed from many rows, kept per project (see `app.snapshots`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class AggregateSnapshot(Base):
    """One kind of figures of one project (agreement and annotator quality, a leaderboard),
    with when and from what they were computed, and who is refreshing them now."""

    __tablename__ = "aggregate_snapshots"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    # A token of the rows behind the figures (newest comparison id, head-to-head votes…):
    # when the same query gives another token, the figures are out of date.
    source: Mapped[str] = mapped_column(String(200))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[Any] = mapped_column(JSON)
    # A refresh in progress (one process at a time); a crashed one's lease runs out.
    refreshing_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
