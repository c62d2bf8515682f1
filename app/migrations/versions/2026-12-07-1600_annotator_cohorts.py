"""Bias checks: `annotator_tags`, the admin-set cohorts of annotators (language, region, …).

Revision ID: b1a5c0d07a01
Revises: 7c1e2a9d4b30
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401

revision: str = "b1a5c0d07a01"
down_revision: str | None = "7c1e2a9d4b30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annotator_tags",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=60), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_annotator_tags_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "dimension", name=op.f("pk_annotator_tags")),
    )
    op.create_index("ix_annotator_tags_dimension_value", "annotator_tags", ["dimension", "value"])


def downgrade() -> None:
    op.drop_index("ix_annotator_tags_dimension_value", table_name="annotator_tags")
    op.drop_table("annotator_tags")
