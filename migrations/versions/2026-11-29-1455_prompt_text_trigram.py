"""Prompt search: a pg_trgm GIN index on prompts.text (Postgres only, where available).

A substring search (`ILIKE '%…%'`) that matches few prompts otherwise reads every prompt
of the project. The index needs the `pg_trgm` extension: it is created when the server
offers it and the migrating role may create it; otherwise this revision does nothing and
search keeps working, only slower. SQLite has no such index (the revision is a no-op).

Revision ID: 63b1f6130429
Revises: ee7b09647db6
Create Date: 2026-11-29 14:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "63b1f6130429"
down_revision: str | None = "ee7b09647db6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_prompts_text_trgm"  # listed in app.migrate.OPTIONAL_INDEXES (not in the models)


def _trigram_extension(bind: sa.Connection) -> bool:
    """Whether pg_trgm is installed now, creating it if the server offers it."""
    row = bind.execute(
        sa.text("SELECT installed_version FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if row is None:
        return False  # the server was built without the contrib extensions
    if row.installed_version is not None:
        return True
    try:
        # A savepoint, so that a refusal (no privilege) leaves the migration's transaction usable.
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _trigram_extension(bind):
        return
    op.create_index(
        INDEX,
        "prompts",
        ["text"],
        postgresql_using="gin",
        postgresql_ops={"text": "gin_trgm_ops"},
    )


def downgrade() -> None:
    # The extension stays: other objects of the database may have come to use it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
