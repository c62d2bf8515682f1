"""Run Alembic migrations programmatically (CLI, tests, start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

# Inside the package, so an installed wheel migrates as a checkout does.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Indexes a migration creates only where the database supports them, so the models do not
# declare them and the drift check must not ask for their removal.
OPTIONAL_INDEXES = frozenset({"ix_prompts_text_trgm"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's autogenerate filter: everything but the optional indexes."""
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)
