"""Completions, pairs (labelling tasks), assignments (leases) and comparisons (judgements)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check
from app.vocabulary import (
    CHOICES,
    STRENGTHS,
    AssignmentStatus,
    FinishReason,
    PairKind,
    PairStatus,
    Side,
    values,
)

PAIR_KINDS = values(PairKind)
PAIR_STATUSES = values(PairStatus)
ASSIGNMENT_STATUSES = values(AssignmentStatus)
SIDES = values(Side)
FINISH_REASONS = values(FinishReason)


class Completion(TimestampMixin, Base):
    __tablename__ = "completions"
    __table_args__ = (
        CheckConstraint(
            "finish_reason IS NULL OR " + enum_check("finish_reason", FINISH_REASONS),
            name="finish_reason",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    policy_version_id: Mapped[int] = mapped_column(
        ForeignKey("policy_versions.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    sampling: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Set by every sampling backend; NULL for answers written by people (gold pairs).
    finish_reason: Mapped[str | None] = mapped_column(String(8), nullable=True)

    @property
    def cut_off(self) -> bool:
        """True when the token limit ended this completion before the model did."""
        return self.finish_reason == FinishReason.length


class Pair(TimestampMixin, Base):
    __tablename__ = "pairs"
    __table_args__ = (
        CheckConstraint(enum_check("kind", PAIR_KINDS), name="kind"),
        CheckConstraint(enum_check("status", PAIR_STATUSES), name="status"),
        CheckConstraint(
            "gold_choice IS NULL OR " + enum_check("gold_choice", CHOICES), name="gold"
        ),
        CheckConstraint("completion_a_id <> completion_b_id", name="distinct_completions"),
        CheckConstraint("labels_received >= 0", name="labels_nonnegative"),
        UniqueConstraint("completion_a_id", "completion_b_id"),
        Index("ix_pairs_next_open", "project_id", "status", "kind", "labels_received", "id"),
        # The labelling queue: open pairs oldest first, and those with a reward margin.
        Index(
            "ix_pairs_open_queue",
            "project_id",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_pairs_open_margin",
            "project_id",
            "reward_margin",
            postgresql_where=text("status = 'open' AND reward_margin IS NOT NULL"),
            sqlite_where=text("status = 'open' AND reward_margin IS NOT NULL"),
        ),
        # The data browser: a project's pairs by id, and by reward margin (keyset pages).
        Index("ix_pairs_project_id_id", "project_id", "id"),
        Index("ix_pairs_project_margin", "project_id", "reward_margin", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"), index=True)
    completion_a_id: Mapped[int] = mapped_column(ForeignKey("completions.id", ondelete="CASCADE"))
    completion_b_id: Mapped[int] = mapped_column(ForeignKey("completions.id", ondelete="CASCADE"))
    policy_version_id: Mapped[int] = mapped_column(
        ForeignKey("policy_versions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default=PairKind.live)
    status: Mapped[str] = mapped_column(String(16), default=PairStatus.open)
    labels_required: Mapped[int] = mapped_column(Integer, default=1)
    labels_received: Mapped[int] = mapped_column(Integer, default=0)
    gold_choice: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reward_margin: Mapped[float | None] = mapped_column(Float, nullable=True)


class Assignment(TimestampMixin, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("pair_id", "user_id"),
        CheckConstraint(enum_check("status", ASSIGNMENT_STATUSES), name="status"),
        CheckConstraint(enum_check("left_side", SIDES), name="left_side"),
        Index("ix_assignments_user_status", "user_id", "status"),
        Index("ix_assignments_pair_status", "pair_id", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.leased)
    left_side: Mapped[str] = mapped_column(String(1), default=Side.a)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    skip_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


LIVE_COMPARISON = text("superseded_at IS NULL")


class Comparison(TimestampMixin, Base):
    """A judgement. Never edited in place: a change of mind stores a new comparison that
    supersedes this one (`superseded_at`, `supersedes_id`), and an undo supersedes it with
    none; every reader counts `Comparison.live` rows only."""

    __tablename__ = "comparisons"
    __table_args__ = (
        # One live judgement per evaluator and pair; superseded ones stay beside it.
        Index(
            "uq_comparisons_live_pair_user",
            "pair_id",
            "user_id",
            unique=True,
            postgresql_where=LIVE_COMPARISON,
            sqlite_where=LIVE_COMPARISON,
        ),
        Index(
            "uq_comparisons_live_idempotency_key",
            "idempotency_key",
            unique=True,
            postgresql_where=LIVE_COMPARISON,
            sqlite_where=LIVE_COMPARISON,
        ),
        CheckConstraint(enum_check("choice", CHOICES), name="choice"),
        CheckConstraint(
            "(strength IS NULL) OR (" + enum_check("strength", STRENGTHS) + ")", name="strength"
        ),
        Index("ix_comparisons_project_id_id", "project_id", "id"),
        # Live votes per pair for the agreement filters and the review queue (index-only scans).
        Index(
            "ix_comparisons_project_pair_choice",
            "project_id",
            "pair_id",
            "choice",
            postgresql_where=LIVE_COMPARISON,
            sqlite_where=LIVE_COMPARISON,
        ),
        # The newest supersession per project: what tells kept figures that an undo happened.
        Index(
            "ix_comparisons_project_superseded",
            "project_id",
            "superseded_at",
            postgresql_where=text("superseded_at IS NOT NULL"),
            sqlite_where=text("superseded_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    choice: Mapped[str] = mapped_column(String(16))
    strength: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rationale: Mapped[str] = mapped_column(Text, default="")
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Measured by the server, lease shown → judgement stored: what the speed figures read.
    decision_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # What the client reported; kept for analysis, never trusted for a figure.
    client_decision_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    guidelines_version: Mapped[int] = mapped_column(Integer, default=1)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a later comparison (a change of mind) or an undo replaced this one.
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("comparisons.id", ondelete="SET NULL"), nullable=True
    )

    @hybrid_property
    def live(self) -> bool:
        """True for the judgement that counts: not superseded by a change or an undo."""
        return self.superseded_at is None

    @live.inplace.expression
    @classmethod
    def _live_expression(cls) -> ColumnElement[bool]:
        return cls.superseded_at.is_(None)
