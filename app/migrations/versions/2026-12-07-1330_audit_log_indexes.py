"""Audit log page: indexes for newest-first pages by actor, by action and by target.

Revision ID: f6c9d3e12a33
Revises: e5b8c2d01f22
Create Date: 2026-12-08 10:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "f6c9d3e12a33"
down_revision: str | None = "e5b8c2d01f22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_audit_events_actor_id_id": ["actor_id", "id"],
    "ix_audit_events_action_id": ["action", "id"],
    "ix_audit_events_target_id": ["target", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "audit_events", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="audit_events")
