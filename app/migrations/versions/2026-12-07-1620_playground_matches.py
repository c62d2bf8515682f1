"""Playground matches: two contestants answer one prompt side by side, then one vote.

Revision ID: ec0dac5e948d
Revises: a7d4e2b91c05
Create Date: 2026-12-07 15:37:13.722698
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401

revision: str = "ec0dac5e948d"
down_revision: str | None = "a7d4e2b91c05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playground_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=True),
        sa.Column("prompt_text", sa.Text(), nullable=False),
        sa.Column("version_a_id", sa.Integer(), nullable=True),
        sa.Column("model_a", sa.String(length=100), nullable=True),
        sa.Column("text_a", sa.Text(), nullable=True),
        sa.Column("finish_a", sa.String(length=8), nullable=True),
        sa.Column("version_b_id", sa.Integer(), nullable=True),
        sa.Column("model_b", sa.String(length=100), nullable=True),
        sa.Column("text_b", sa.Text(), nullable=True),
        sa.Column("finish_b", sa.String(length=8), nullable=True),
        sa.Column("choice", sa.String(length=16), nullable=True),
        sa.Column("voted_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "choice IS NULL OR choice IN ('a', 'b', 'tie', 'both_bad')",
            name=op.f("ck_playground_matches_choice"),
        ),
        sa.CheckConstraint(
            "source IN ('playground', 'battle')", name=op.f("ck_playground_matches_source")
        ),
        sa.CheckConstraint(
            "(choice IS NULL) = (voted_at IS NULL)",
            name=op.f("ck_playground_matches_vote_has_time"),
        ),
        sa.CheckConstraint(
            "version_a_id IS NOT NULL OR model_a IS NOT NULL",
            name=op.f("ck_playground_matches_contestant_a"),
        ),
        sa.CheckConstraint(
            "version_b_id IS NOT NULL OR model_b IS NOT NULL",
            name=op.f("ck_playground_matches_contestant_b"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_playground_matches_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_playground_matches_prompt_id_prompts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_playground_matches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_a_id"],
            ["policy_versions.id"],
            name=op.f("fk_playground_matches_version_a_id_policy_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_b_id"],
            ["policy_versions.id"],
            name=op.f("fk_playground_matches_version_b_id_policy_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playground_matches")),
    )
    op.create_index(
        "ix_playground_matches_project_source", "playground_matches", ["project_id", "source", "id"]
    )
    op.create_index("ix_playground_matches_user_id", "playground_matches", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_playground_matches_user_id", table_name="playground_matches")
    op.drop_index("ix_playground_matches_project_source", table_name="playground_matches")
    op.drop_table("playground_matches")
