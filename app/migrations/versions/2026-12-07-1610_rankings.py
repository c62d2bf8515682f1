"""Rankings of K completions: a ranking task's items and the rankings evaluators give.

Revision ID: a7d4e2b91c05
Revises: b1a5c0d07a01
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision: str = "a7d4e2b91c05"
down_revision: str | None = "b1a5c0d07a01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ranking_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("completion_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("gold_rank", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "gold_rank IS NULL OR gold_rank >= 1", name=op.f("ck_ranking_items_gold_rank_positive")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_ranking_items_position_nonnegative")),
        sa.ForeignKeyConstraint(
            ["completion_id"],
            ["completions.id"],
            name=op.f("fk_ranking_items_completion_id_completions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_ranking_items_pair_id_pairs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_items")),
        sa.UniqueConstraint(
            "pair_id", "completion_id", name=op.f("uq_ranking_items_pair_id_completion_id")
        ),
        sa.UniqueConstraint("pair_id", "position", name=op.f("uq_ranking_items_pair_id_position")),
    )
    op.create_table(
        "rankings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            ["comparisons.id"],
            name=op.f("fk_rankings_comparison_id_comparisons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"], ["pairs.id"], name=op.f("fk_rankings_pair_id_pairs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rankings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_rankings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
        sa.UniqueConstraint("comparison_id", name=op.f("uq_rankings_comparison_id")),
        sa.UniqueConstraint("pair_id", "user_id", name=op.f("uq_rankings_pair_id_user_id")),
    )
    op.create_index("ix_rankings_project_pair", "rankings", ["project_id", "pair_id"])
    op.create_index(op.f("ix_rankings_user_id"), "rankings", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rankings_user_id"), table_name="rankings")
    op.drop_index("ix_rankings_project_pair", table_name="rankings")
    op.drop_table("rankings")
    op.drop_table("ranking_items")
