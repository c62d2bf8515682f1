"""The migration chain goes up and down on both backends and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.migrate import downgrade, upgrade
from app.models import Base
from tests.conftest import fresh_engine

EXPECTED_TABLES = {
    "users", "user_roles", "sessions", "api_tokens", "audit_events", "projects",
    "project_members", "prompts", "policy_versions", "reward_models", "completions",
    "pairs", "assignments", "comparisons", "training_runs", "worker_heartbeats",
}  # fmt: skip


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_upgrade_downgrade_and_no_drift(backend_name: str, tmp_path: Path) -> None:
    engine = fresh_engine(backend_name, tmp_path)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()


def test_migration_files_are_date_slugged() -> None:
    files = sorted(Path("migrations/versions").glob("*.py"))
    assert files
    for f in files:
        assert f.name[:16].replace("-", "").replace("_", "")[:12].isdigit(), f.name
