"""Policy versions: a `trial` status (a candidate that evaluators' head-to-head votes decide).

Revision ID: 7c1a0e5f3b21
Revises: 63b1f6130429
Create Date: 2026-12-07 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1a0e5f3b21"
down_revision: str | None = "63b1f6130429"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "status IN ('candidate', 'active', 'archived', 'rejected')"
AFTER = "status IN ('candidate', 'trial', 'active', 'archived', 'rejected')"


def _check(expression: str) -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_policy_versions_status"), type_="check")
        batch_op.create_check_constraint("status", sa.text(expression))


def upgrade() -> None:
    _check(AFTER)


def downgrade() -> None:
    # A version on trial was a candidate before trials existed.
    op.execute("UPDATE policy_versions SET status = 'candidate' WHERE status = 'trial'")
    _check(BEFORE)
