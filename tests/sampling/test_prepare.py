"""`pairwise worker prepare`: version 0 in the model store before vLLM or a sampler starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.db import make_engine
from app.domain.store import ModelStore
from app.migrate import upgrade
from app.settings import get_settings


def test_prepare_converts_version_zero_of_a_fresh_stack(
    tiny_policy_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    for name, value in {
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path),
        "POLICY_BASE_MODEL": str(tiny_policy_dir),
        "SECRET_KEY": "t" * 48,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(cli_app, ["worker", "prepare"])
        assert first.exit_code == 0, first.output
        assert "project default: version 0 ready at projects/1/policy/v0" in first.output
        store = ModelStore(tmp_path / "models")
        assert store.exists("projects/1/policy/v0")  # what vLLM's --model points at
        again = runner.invoke(cli_app, ["worker", "prepare"])  # a restart converts nothing
        assert again.exit_code == 0 and "projects/1/policy/v0" in again.output
    finally:
        get_settings.cache_clear()
