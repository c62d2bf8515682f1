"""What the `pairwise` commands share: the settings, a checked engine, one-line errors.

Imports here and at the top of every `cli.py` stay light (typer and the standard library),
so `pairwise --help` starts fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.settings import Settings


def settings() -> Settings:
    """The validated settings; a bad variable ends the command in `app.cli.main`."""
    from app.settings import get_settings

    return get_settings()


def engine(settings: Settings) -> Engine:
    """An engine on DATABASE_URL, checked to answer (SettingsError with one line if not)."""
    from app.db import check_connection, make_engine

    made = make_engine(settings.resolved_database_url)
    check_connection(made)
    return made


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: MESSAGE` to stderr and end the command with CODE."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
