"""Demonstrations: the answers evaluators write (or edit from a response) for SFT.

Revision ID: 5cae72ac0d16
Revises: f6c9d3e12a33
Create Date: 2026-12-07 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "5cae72ac0d16"
down_revision: str | None = "f6c9d3e12a33"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "demonstrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.Column("source_completion_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')", name=op.f("ck_demonstrations_status")
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_demonstrations_pair_id_pairs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_demonstrations_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_demonstrations_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_demonstrations_reviewed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_completion_id"],
            ["completions.id"],
            name=op.f("fk_demonstrations_source_completion_id_completions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_demonstrations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demonstrations")),
        sa.UniqueConstraint(
            "prompt_id", "user_id", name=op.f("uq_demonstrations_prompt_id_user_id")
        ),
    )
    op.create_index("ix_demonstrations_pair_id", "demonstrations", ["pair_id"])
    op.create_index("ix_demonstrations_review", "demonstrations", ["project_id", "status", "id"])
    op.create_index("ix_demonstrations_user_id", "demonstrations", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_demonstrations_user_id", table_name="demonstrations")
    op.drop_index("ix_demonstrations_review", table_name="demonstrations")
    op.drop_index("ix_demonstrations_pair_id", table_name="demonstrations")
    op.drop_table("demonstrations")
