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


def _extension_schema(bind: sa.Connection) -> str | None:
    row = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).first()
    return None if row is None else str(row[0])


def _trigram_extension(bind: sa.Connection) -> str | None:
    """The schema pg_trgm is installed in, creating it if the server offers it; else None."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if available is None:
        return None  # the server was built without the contrib extensions
    if _extension_schema(bind) is None:
        try:
            # A savepoint, so that a refusal (no privilege) leaves the transaction usable.
            with bind.begin_nested():
                bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except sa.exc.DBAPIError:
            return None
    return _extension_schema(bind)


def upgrade() -> None:
    bind = op.get_bind()
    schema = _trigram_extension(bind) if bind.dialect.name == "postgresql" else None
    if schema is None:
        return
    # The operator class is named with its schema: the extension may live in a schema that is
    # not on this connection's search path (installed earlier by another application).
    opclass = '"' + schema.replace('"', '""') + '".gin_trgm_ops'
    op.execute(f"CREATE INDEX {INDEX} ON prompts USING gin (text {opclass})")


def downgrade() -> None:
    # The extension stays: other objects of the database may have come to use it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
