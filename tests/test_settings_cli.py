"""Settings validation and the CLI's error messages (no database needed)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_production_refuses_missing_or_weak_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings(pairwise_env="production", data_dir=tmp_path).resolved_secret_key()  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match="too weak"):
        Settings(pairwise_env="production", secret_key="changeme").resolved_secret_key()  # type: ignore[call-arg]
    strong = "s" * 40
    assert Settings(pairwise_env="production", secret_key=strong).resolved_secret_key() == strong  # type: ignore[call-arg]


def test_local_secret_generated_once_with_mode_0600(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()  # type: ignore[call-arg]
    assert len(first) >= 48
    assert Settings(data_dir=tmp_path).resolved_secret_key() == first  # type: ignore[call-arg]
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("notaurl", "not a valid database URL"),
        ("mysql://x@localhost/db", "supports sqlite and postgresql"),
        ("postgresql://nobody@127.0.0.1:1/nodb", "cannot reach the database"),
    ],
)
def test_bad_database_url_gives_one_clear_line(tmp_path: Path, url: str, expected: str) -> None:
    result = run_cli("db", "upgrade", env={"DATABASE_URL": url, "DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_creates_and_lists_users(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    assert run_cli("db", "upgrade", env=env).returncode == 0
    created = run_cli("users", "create", "alice", "--role", "admin", env=env)
    assert created.returncode == 0, created.stderr
    assert "password:" in created.stdout
    dup = run_cli("users", "create", "alice", "--role", "admin", env=env)
    assert dup.returncode == 2 and "taken" in dup.stderr
    listed = run_cli("users", "list", env=env)
    assert "alice" in listed.stdout and "admin" in listed.stdout


def test_readme_documents_every_setting() -> None:
    readme = Path("README.md").read_text()
    missing = [n.upper() for n in Settings.model_fields if f"`{n.upper()}`" not in readme]
    assert missing == []
