"""Completions record why they ended: finish_reason stop (the model stopped) or length (cut off)

Sampled rows from before this revision carried the reason inside `sampling` as "finish";
it is copied into the column where it was stop or length. Answers written by people
(gold pairs) keep NULL.

Revision ID: 5c0e7f1a9b21
Revises: 5ec4a07b7c11
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0e7f1a9b21"
down_revision: str | None = "5ec4a07b7c11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finish_reason", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_completions_finish_reason"),
            "finish_reason IS NULL OR finish_reason IN ('stop', 'length')",
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE completions SET finish_reason = sampling->>'finish'"
            " WHERE sampling->>'finish' IN ('stop', 'length')"
        )
    else:
        op.execute(
            "UPDATE completions SET finish_reason = json_extract(sampling, '$.finish')"
            " WHERE json_extract(sampling, '$.finish') IN ('stop', 'length')"
        )


def downgrade() -> None:
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_completions_finish_reason"), type_="check")
        batch_op.drop_column("finish_reason")
