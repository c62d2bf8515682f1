"""Fixtures for tests that need real commits (threads, subprocesses): their own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.migrate import upgrade
from tests.conftest import fresh_engine, reset_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def committed_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated database whose commits are real; Postgres is left clean afterwards."""
    engine = fresh_engine(str(request.param), tmp_path)
    try:
        yield engine
    finally:
        if request.param == "postgres":  # the shared test database: leave it empty and migrated
            reset_postgres(engine)
            upgrade(engine)
        engine.dispose()
