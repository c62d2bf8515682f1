"""The migration chain goes up and down on both backends and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app.migrate import downgrade, include_object, upgrade
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
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": include_object}
                ),
                Base.metadata,
            )
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()


def test_migration_files_are_date_slugged() -> None:
    files = sorted(Path("app/migrations/versions").glob("*.py"))
    assert files
    for f in files:
        assert f.name[:16].replace("-", "").replace("_", "")[:12].isdigit(), f.name


def test_prompt_text_trigram_index_on_postgres(tmp_path: Path) -> None:
    """Where the server offers pg_trgm, substring search on prompts gets a GIN index."""
    engine = fresh_engine("postgres", tmp_path)
    try:
        with engine.connect() as conn:
            offered = conn.scalar(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            )
        if offered is None:
            pytest.skip("this Postgres has no pg_trgm")
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("prompts")}
        assert "ix_prompts_text_trgm" in indexes
        downgrade(engine, "ee7b09647db6")  # the revision before the index
        assert "ix_prompts_text_trgm" not in {
            i["name"] for i in inspect(engine).get_indexes("prompts")
        }
        upgrade(engine)
        assert "ix_prompts_text_trgm" in {i["name"] for i in inspect(engine).get_indexes("prompts")}
    finally:
        engine.dispose()


def test_trigram_index_when_the_extension_lives_in_another_schema(tmp_path: Path) -> None:
    """pg_trgm installed earlier into a schema off the search path (by another application,
    or a benchmark's own schema) must not break the migration: the opclass is qualified."""
    engine = fresh_engine("postgres", tmp_path)
    try:
        with engine.begin() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
                conn.execute(text("DROP EXTENSION IF EXISTS pg_trgm CASCADE"))
                conn.execute(text("CREATE SCHEMA IF NOT EXISTS elsewhere_ext"))
                conn.execute(text("CREATE EXTENSION pg_trgm SCHEMA elsewhere_ext"))
            else:
                pytest.skip("this Postgres has no pg_trgm")
        downgrade(engine, "base")
        upgrade(engine)
        assert "ix_prompts_text_trgm" in {i["name"] for i in inspect(engine).get_indexes("prompts")}
    finally:
        with engine.begin() as conn:  # leave the extension where a fresh database puts it
            conn.execute(text("DROP SCHEMA IF EXISTS elsewhere_ext CASCADE"))
        engine.dispose()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_trial_status_is_allowed_and_goes_back_to_candidate_on_downgrade(
    backend_name: str, tmp_path: Path
) -> None:
    from sqlalchemy.exc import IntegrityError

    engine = fresh_engine(backend_name, tmp_path)
    insert = text(
        "INSERT INTO policy_versions (project_id, number, checkpoint_uri, base_model, status, "
        "metrics, created_at) VALUES (1, :n, 'v', 'tiny', :status, '{}', CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projects (name, description, base_policy_model, "
                    "overlap, gold_rate, head_to_head_share, flags, guidelines, "
                    "guidelines_version, settings, created_at) VALUES ('p', '', 't', "
                    "1, 0, 0.1, '[]', '', 1, '{}', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(insert, {"n": 1, "status": "trial"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"n": 2, "status": "on_trial"})
        downgrade(engine, "63b1f6130429")  # the revision before the trial status
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT status FROM policy_versions")) == "candidate"
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"n": 3, "status": "trial"})
        upgrade(engine)
    finally:
        engine.dispose()


BEFORE_USERNAMES = "384a56f7ce5a-1"  # the revision before usernames were normalised


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_existing_usernames_are_normalised(backend_name: str, tmp_path: Path) -> None:
    """Accounts made before names were normalised can still log in (the lookup normalises)."""
    engine = fresh_engine(backend_name, tmp_path)
    try:
        downgrade(engine, BEFORE_USERNAMES)
        insert = text(
            "INSERT INTO users (username, password_hash, active, simulated, created_at) "
            "VALUES (:name, '!', true, false, CURRENT_TIMESTAMP)"
        )
        with engine.begin() as conn:
            for name in (" Alice", "bob"):
                conn.execute(insert, {"name": name})
        upgrade(engine)
        with engine.connect() as conn:
            names = set(conn.scalars(text("SELECT username FROM users")))
        assert names == {"alice", "bob"}
        downgrade(engine, BEFORE_USERNAMES)
        with engine.begin() as conn:
            conn.execute(insert, {"name": "ALICE"})
        with pytest.raises(RuntimeError, match="rename one"):
            upgrade(engine)
    finally:
        engine.dispose()
