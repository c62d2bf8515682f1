"""What the `pairwise` commands share: the settings, a checked engine, one-line errors.

Imports here and at the top of every `cli.py` stay light (typer and the standard library),
so `pairwise --help` starts fast; each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from app.settings import Settings


T = TypeVar("T")


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


def progress_bar(total: int | None, desc: str, unit: str = "row") -> Any:
    """A progress bar on stderr (rows, rate, time left when the total is known)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, leave=True)


def counted(items: Iterable[T], bar: Any) -> Iterator[T]:
    """The items, unchanged, ticking `bar` once each."""
    for item in items:
        bar.update(1)
        yield item
