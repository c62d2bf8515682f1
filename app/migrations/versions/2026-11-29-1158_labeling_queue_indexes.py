"""Labelling queue: partial indexes on open pairs (oldest first, and by reward margin).

Revision ID: ee7b09647db6
Revises: a10ca51b0d65
Create Date: 2026-11-29 11:58:34.087359
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base  # noqa: F401

revision: str = "ee7b09647db6"
down_revision: str | None = "a10ca51b0d65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pairs_open_margin",
            ["project_id", "reward_margin"],
            unique=False,
            postgresql_where=sa.text("status = 'open' AND reward_margin IS NOT NULL"),
            sqlite_where=sa.text("status = 'open' AND reward_margin IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_pairs_open_queue",
            ["project_id", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("pairs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_pairs_open_queue",
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index(
            "ix_pairs_open_margin",
            postgresql_where=sa.text("status = 'open' AND reward_margin IS NOT NULL"),
            sqlite_where=sa.text("status = 'open' AND reward_margin IS NOT NULL"),
        )
