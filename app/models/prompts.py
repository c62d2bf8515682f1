"""Prompts: plain text or chat messages, unique per project by content hash."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class Prompt(TimestampMixin, Base):
    __tablename__ = "prompts"
    __table_args__ = (
        UniqueConstraint("project_id", "content_hash"),
        Index("ix_prompts_sampling", "project_id", "active", "priority", "times_sampled"),
        # The admin list pages newest first by id within a project (keyset pagination).
        Index("ix_prompts_project_id_id", "project_id", "id"),
        Index("ix_prompts_project_external_id", "project_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    messages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    times_sampled: Mapped[int] = mapped_column(Integer, default=0)
    # The upload's other columns, kept as given (scalars as text); an id in the lab's system.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
