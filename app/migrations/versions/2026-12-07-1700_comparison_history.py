"""Comparisons: a change of mind supersedes a judgement instead of editing it.

`superseded_at` marks a judgement replaced by a later one (`supersedes_id` on the new row)
or withdrawn by an undo. The one-per-(pair, evaluator) and idempotency-key uniqueness now
hold for live rows only: partial unique indexes (`WHERE superseded_at IS NULL`) on SQLite
and Postgres alike. Downgrading deletes the superseded rows, which the old schema cannot
hold beside the live ones.

Revision ID: 3f6b1d2c8e47
Revises: ec0dac5e948d
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "3f6b1d2c8e47"
down_revision: str | None = "ec0dac5e948d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("superseded_at IS NULL")
SUPERSEDED = sa.text("superseded_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("superseded_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("supersedes_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_comparisons_supersedes_id_comparisons"),
            "comparisons",
            ["supersedes_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(batch_op.f("uq_comparisons_pair_id_user_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_comparisons_idempotency_key"), type_="unique")
    op.create_index(
        "uq_comparisons_live_pair_user",
        "comparisons",
        ["pair_id", "user_id"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index(
        "uq_comparisons_live_idempotency_key",
        "comparisons",
        ["idempotency_key"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    # Every reader now asks for live votes: the per-pair vote index covers live rows only.
    op.drop_index("ix_comparisons_project_pair_choice", table_name="comparisons")
    op.create_index(
        "ix_comparisons_project_pair_choice",
        "comparisons",
        ["project_id", "pair_id", "choice"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index(
        "ix_comparisons_project_superseded",
        "comparisons",
        ["project_id", "superseded_at"],
        postgresql_where=SUPERSEDED,
        sqlite_where=SUPERSEDED,
    )


def downgrade() -> None:
    op.drop_index("ix_comparisons_project_superseded", table_name="comparisons")
    op.drop_index("ix_comparisons_project_pair_choice", table_name="comparisons")
    op.create_index(
        "ix_comparisons_project_pair_choice", "comparisons", ["project_id", "pair_id", "choice"]
    )
    op.drop_index("uq_comparisons_live_idempotency_key", table_name="comparisons")
    op.drop_index("uq_comparisons_live_pair_user", table_name="comparisons")
    op.execute("UPDATE comparisons SET supersedes_id = NULL")
    op.execute("DELETE FROM comparisons WHERE superseded_at IS NOT NULL")
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            batch_op.f("uq_comparisons_idempotency_key"), ["idempotency_key"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_comparisons_pair_id_user_id"), ["pair_id", "user_id"]
        )
        batch_op.drop_constraint(
            batch_op.f("fk_comparisons_supersedes_id_comparisons"), type_="foreignkey"
        )
        batch_op.drop_column("supersedes_id")
        batch_op.drop_column("superseded_at")
