"""Imported preference data: a batch per imported file, a row per imported judgement.

Imported judgements are not `Comparison`s: no annotator made them, so they never count as
anyone's work nor in agreement figures. Training and the export read them only when asked
(app/domain/imported.py); reverting a batch deletes its rows and keeps the batch as a record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, UTCDateTime, enum_check
from app.vocabulary import CHOICES, STRENGTHS, ImportFormat, ImportStatus, values

IMPORT_STATUSES = values(ImportStatus)
IMPORT_FORMATS = values(ImportFormat)


class PreferenceImport(TimestampMixin, Base):
    __tablename__ = "preference_imports"
    __table_args__ = (
        CheckConstraint(enum_check("status", IMPORT_STATUSES), name="status"),
        Index("ix_preference_imports_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    # Where the data came from, as the admin named it (a data set, a vendor); shown and exported.
    source: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.active)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    prompts_added: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reverted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reverted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class ImportedComparison(TimestampMixin, Base):
    __tablename__ = "imported_comparisons"
    __table_args__ = (
        CheckConstraint(enum_check("choice", CHOICES), name="choice"),
        CheckConstraint(enum_check("format", IMPORT_FORMATS), name="format"),
        CheckConstraint(
            "(strength IS NULL) OR (" + enum_check("strength", STRENGTHS) + ")", name="strength"
        ),
        Index("ix_imported_comparisons_project_id_id", "project_id", "id"),
        Index("ix_imported_comparisons_batch_id", "batch_id"),
        Index("ix_imported_comparisons_prompt_id", "prompt_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    batch_id: Mapped[int] = mapped_column(ForeignKey("preference_imports.id", ondelete="CASCADE"))
    # The prompt it answers: an existing prompt with the same content, or one the import added
    # (inactive, so the sampler never draws it); `prompt_added` marks the latter for revert.
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id", ondelete="CASCADE"))
    prompt_added: Mapped[bool] = mapped_column(Boolean, default=False)
    line: Mapped[int] = mapped_column(Integer)  # its line or row in the imported file
    format: Mapped[str] = mapped_column(String(16))
    response_a: Mapped[str] = mapped_column(Text)
    response_b: Mapped[str] = mapped_column(Text)
    choice: Mapped[str] = mapped_column(String(16))  # TRL rows: "a" (a = chosen)
    strength: Mapped[str | None] = mapped_column(String(16), nullable=True)
