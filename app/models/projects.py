"""Projects (one RLHF loop each) and their members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin

UNSAFE_FLAG = "unsafe"  # the flag the per-version safety figures and gate count
DEFAULT_FLAGS = [UNSAFE_FLAG, "factually wrong", "off-topic", "low quality"]


class Project(TimestampMixin, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    base_policy_model: Mapped[str] = mapped_column(String(300), default="smollm2")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    gold_rate: Mapped[float] = mapped_column(default=0.0)
    head_to_head_share: Mapped[float] = mapped_column(default=0.1)
    flags: Mapped[list[str]] = mapped_column(JSON, default=lambda: list(DEFAULT_FLAGS))
    guidelines: Mapped[str] = mapped_column(Text, default="")
    guidelines_version: Mapped[int] = mapped_column(Integer, default=1)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProjectMember(TimestampMixin, Base):
    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
