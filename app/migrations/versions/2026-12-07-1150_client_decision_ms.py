"""Comparisons: the client's own decision time beside the server's (`decision_ms`).

`decision_ms` is from now on measured by the server (lease shown → submission stored) and is
what the speed figures read; what the client reports goes to `client_decision_ms`. Rows
stored before keep their value in `decision_ms` (the server cannot tell whose it was).

Revision ID: 134efb9e75d4
Revises: 384a56f7ce5a
Create Date: 2026-12-01 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "134efb9e75d4"
down_revision: str | None = "384a56f7ce5a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_decision_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comparisons", schema=None) as batch_op:
        batch_op.drop_column("client_decision_ms")
