"""Annotator tags set by admins (language, region, expertise, …): each tag places the
annotator in one cohort of its dimension, which the bias checks compare."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin


class AnnotatorTag(TimestampMixin, Base):
    """One value per dimension per annotator: `language = de`, `expertise = medicine`."""

    __tablename__ = "annotator_tags"
    __table_args__ = (Index("ix_annotator_tags_dimension_value", "dimension", "value"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    dimension: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(60))
