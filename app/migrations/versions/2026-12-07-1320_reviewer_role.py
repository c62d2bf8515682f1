"""Users: a `reviewer` role (adjudicates split and disputed pairs).

Revision ID: e5b8c2d01f22
Revises: d4a7b1c90e11
Create Date: 2026-12-08 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b8c2d01f22"
down_revision: str | None = "d4a7b1c90e11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "role IN ('evaluator', 'admin', 'ml')"
AFTER = "role IN ('evaluator', 'admin', 'ml', 'reviewer')"


def _check(expression: str) -> None:
    with op.batch_alter_table("user_roles", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_user_roles_role"), type_="check")
        batch_op.create_check_constraint("role", sa.text(expression))


def upgrade() -> None:
    _check(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM user_roles WHERE role = 'reviewer'")
    _check(BEFORE)
