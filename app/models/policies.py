"""Policy versions (the lineage of the model being trained) and reward models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check
from app.vocabulary import VersionStatus, values

VERSION_STATUSES = values(VersionStatus)


class PolicyVersion(TimestampMixin, Base):
    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint(enum_check("status", VERSION_STATUSES), name="status"),
        Index("ix_policy_versions_project_status", "project_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("policy_versions.id", ondelete="SET NULL"), nullable=True
    )
    checkpoint_uri: Mapped[str] = mapped_column(String(500))
    base_model: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=VersionStatus.candidate)
    # The run that produced it; unique so that a retried run can never register twice.
    # (No foreign key: training_runs points back here, and a cycle complicates migrations.)
    training_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RewardModel(TimestampMixin, Base):
    __tablename__ = "reward_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    checkpoint_uri: Mapped[str] = mapped_column(String(500))
    base_model: Mapped[str] = mapped_column(String(300))
    training_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
