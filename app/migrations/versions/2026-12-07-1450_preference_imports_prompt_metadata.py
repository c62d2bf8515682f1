"""Imported preference data (`preference_imports`, `imported_comparisons`) and prompt metadata.

Revision ID: 7c1e2a9d4b30
Revises: 5cae72ac0d16
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401

revision: str = "7c1e2a9d4b30"
down_revision: str | None = "5cae72ac0d16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = app.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "preference_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("prompts_added", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("reverted_at", STAMP, nullable=True),
        sa.Column("reverted_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", STAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'reverted')", name=op.f("ck_preference_imports_status")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_preference_imports_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_preference_imports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reverted_by_id"],
            ["users.id"],
            name=op.f("fk_preference_imports_reverted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_imports")),
    )
    op.create_index(
        "ix_preference_imports_project_id_id", "preference_imports", ["project_id", "id"]
    )
    op.create_table(
        "imported_comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("prompt_added", sa.Boolean(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("response_a", sa.Text(), nullable=False),
        sa.Column("response_b", sa.Text(), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("strength", sa.String(length=16), nullable=True),
        sa.Column("created_at", STAMP, nullable=False),
        sa.CheckConstraint(
            "choice IN ('a', 'b', 'tie', 'both_bad')", name=op.f("ck_imported_comparisons_choice")
        ),
        sa.CheckConstraint(
            "format IN ('trl', 'pairwise')", name=op.f("ck_imported_comparisons_format")
        ),
        sa.CheckConstraint(
            "(strength IS NULL) OR (strength IN ('slight', 'clear', 'much'))",
            name=op.f("ck_imported_comparisons_strength"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["preference_imports.id"],
            name=op.f("fk_imported_comparisons_batch_id_preference_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_imported_comparisons_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_imported_comparisons_prompt_id_prompts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_comparisons")),
    )
    op.create_index(
        "ix_imported_comparisons_project_id_id", "imported_comparisons", ["project_id", "id"]
    )
    op.create_index("ix_imported_comparisons_batch_id", "imported_comparisons", ["batch_id"])
    op.create_index("ix_imported_comparisons_prompt_id", "imported_comparisons", ["prompt_id"])
    with op.batch_alter_table("prompts") as batch:
        batch.add_column(sa.Column("meta", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("external_id", sa.String(length=200), nullable=True))
    with op.batch_alter_table("prompts") as batch:
        batch.alter_column("meta", server_default=None)
    op.create_index("ix_prompts_project_external_id", "prompts", ["project_id", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_prompts_project_external_id", table_name="prompts")
    with op.batch_alter_table("prompts") as batch:
        batch.drop_column("external_id")
        batch.drop_column("meta")
    op.drop_index("ix_imported_comparisons_prompt_id", table_name="imported_comparisons")
    op.drop_index("ix_imported_comparisons_batch_id", table_name="imported_comparisons")
    op.drop_index("ix_imported_comparisons_project_id_id", table_name="imported_comparisons")
    op.drop_table("imported_comparisons")
    op.drop_index("ix_preference_imports_project_id_id", table_name="preference_imports")
    op.drop_table("preference_imports")
