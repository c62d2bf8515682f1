"""Data browser and adjudication: the `adjudications` table and the browser's indexes.

Revision ID: d4a7b1c90e11
Revises: 5a9e3c1d7b20
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401

revision: str = "d4a7b1c90e11"
down_revision: str | None = "5a9e3c1d7b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'decided')", name=op.f("ck_adjudications_status")
        ),
        sa.CheckConstraint(
            "choice IS NULL OR choice IN ('a', 'b', 'tie', 'both_bad')",
            name=op.f("ck_adjudications_choice"),
        ),
        sa.CheckConstraint(
            "(status = 'decided' AND choice IS NOT NULL)"
            " OR (status = 'pending' AND choice IS NULL)",
            name=op.f("ck_adjudications_decided_has_choice"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_adjudications_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pair_id"],
            ["pairs.id"],
            name=op.f("fk_adjudications_pair_id_pairs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_adjudications_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_adjudications_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adjudications")),
        sa.UniqueConstraint("pair_id", name=op.f("uq_adjudications_pair_id")),
    )
    op.create_index("ix_adjudications_queue", "adjudications", ["project_id", "status", "pair_id"])
    op.create_index("ix_pairs_project_id_id", "pairs", ["project_id", "id"])
    op.create_index("ix_pairs_project_margin", "pairs", ["project_id", "reward_margin", "id"])
    op.create_index(
        "ix_comparisons_project_pair_choice", "comparisons", ["project_id", "pair_id", "choice"]
    )


def downgrade() -> None:
    op.drop_index("ix_comparisons_project_pair_choice", table_name="comparisons")
    op.drop_index("ix_pairs_project_margin", table_name="pairs")
    op.drop_index("ix_pairs_project_id_id", table_name="pairs")
    op.drop_index("ix_adjudications_queue", table_name="adjudications")
    op.drop_table("adjudications")
