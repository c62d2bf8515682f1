"""Settings validation and the CLI's error messages (no database needed)."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from app.cli import app as cli_app
from app.cli import command_at, main
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


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = run_cli("--version", env={})
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"pairwise {version('pairwise')}\n"


def test_help_imports_no_database_settings_or_torch() -> None:
    probe = (
        "import sys; from app.cli import main; code = main(['--help']); "
        "heavy = ['torch', 'trainer', 'sqlalchemy', 'app.settings', 'pydantic']; "
        "print(code, [m for m in heavy if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr


BAD_LOG_LEVEL = "error: LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, got 'verbose'\n"


@pytest.mark.parametrize(
    "command",
    [
        ["serve"],
        ["demo"],
        ["db", "upgrade"],
        ["db", "downgrade", "base", "--yes"],
        ["users", "list"],
        ["prompts", "import", "prompts.jsonl"],
        ["export", "--out", "x.jsonl"],
        ["train"],
        ["simulate", "--rule", "concise"],
        ["worker", "sample", "--once"],
        ["worker", "train", "--once"],
    ],
)
def test_bad_setting_gives_one_clear_line_for_every_command(
    tmp_path: Path, command: list[str]
) -> None:
    result = run_cli(*command, env={"LOG_LEVEL": "verbose", "DATA_DIR": str(tmp_path)})
    assert (result.returncode, result.stderr) == (2, BAD_LOG_LEVEL)
    assert not (tmp_path / "pairwise.db").exists()


def test_each_bad_setting_gets_its_own_line(tmp_path: Path) -> None:
    env = {
        "PORT": "http",
        "SAMPLER_ENABLED": "maybe",
        "TEMPERATURE": "0",
        "DATA_DIR": str(tmp_path),
    }
    result = run_cli("users", "list", env=env)
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "error: PORT: must be a whole number ≥ 1 and ≤ 65535, got 'http'",
        "error: SAMPLER_ENABLED: must be true or false (or 1/0, yes/no, on/off), got 'maybe'",
        "error: TEMPERATURE: must be a number > 0 and ≤ 5, got '0'",
    ]


def test_secrets_are_not_echoed_and_cross_field_rules_name_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from app.settings import settings_problems

    with pytest.raises(ValidationError) as bad:
        Settings(_env_file=None, pair_buffer=4, pair_low_water=9)  # type: ignore[call-arg]
    assert settings_problems(bad.value) == [
        "PAIR_LOW_WATER: must not exceed PAIR_BUFFER (4), got 9"
    ]
    with pytest.raises(ValidationError) as bad:
        Settings(_env_file=None, metrics_token=["hunter2"])  # type: ignore[call-arg]
    [line] = settings_problems(bad.value)
    assert line.startswith("METRICS_TOKEN: ") and "hunter2" not in line


def test_log_level_is_read_in_any_case() -> None:
    assert Settings(_env_file=None, log_level=" warning").log_level == "WARNING"  # type: ignore[call-arg]
    assert Settings(_env_file=None, log_level="Debug").log_level == "DEBUG"  # type: ignore[call-arg]


def schema_revision(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master")}
        if "alembic_version" not in tables:
            return []
        return [row[0] for row in conn.execute("select version_num from alembic_version")]


def test_downgrade_needs_a_revision_and_a_confirmation(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    db = tmp_path / "pairwise.db"
    assert run_cli("db", "upgrade", env=env).returncode == 0
    head = schema_revision(db)
    assert len(head) == 1

    no_revision = run_cli("db", "downgrade", "--yes", env=env)
    assert no_revision.returncode == 2
    assert "needs the revision to go down to" in no_revision.stderr
    assert "nothing was changed" in no_revision.stderr

    for answer in (None, "n\n", "\n"):  # stdin closed, a no, the default
        refused = subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "downgrade", "base"],
            env={**os.environ, **env},
            input=answer,
            stdin=subprocess.DEVNULL if answer is None else None,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode == 1, refused.stderr
        assert "not confirmed" in refused.stderr and "nothing was changed" in refused.stderr
        assert schema_revision(db) == head

    unknown = run_cli("db", "downgrade", "nosuchrev", "--yes", env=env)
    assert unknown.returncode == 2 and "nosuchrev" in unknown.stderr
    assert "Traceback" not in unknown.stderr and schema_revision(db) == head

    confirmed = subprocess.run(
        [sys.executable, "-m", "app.cli", "db", "downgrade", "-1"],
        env={**os.environ, **env},
        input="y\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert confirmed.returncode == 0, confirmed.stderr
    assert "Downgrade the database" in confirmed.stdout and head[0] in confirmed.stdout
    one_back = schema_revision(db)
    assert len(one_back) == 1 and one_back != head

    assert run_cli("db", "downgrade", "base", "--yes", env=env).returncode == 0
    assert schema_revision(db) == []
    assert run_cli("db", "upgrade", env=env).returncode == 0
    assert schema_revision(db) == head


def documented_commands() -> list[str]:
    """Every `pairwise …` in backticks in the README and docs/."""
    texts = [Path("README.md").read_text()] + [p.read_text() for p in Path("docs").glob("*.md")]
    found = {m for text in texts for m in re.findall(r"`pairwise(?: [^`]*)?`", text)}
    return sorted(span.strip("`").replace("\\|", "|") for span in found)


@pytest.mark.parametrize("line", documented_commands())
def test_every_documented_command_and_option_exists(line: str) -> None:
    words = line.split()[1:]
    command, rest = command_at(words)
    if words[0].startswith("--"):  # the root's own options (--version, --help)
        command, rest = typer.main.get_command(cli_app), words
    assert command is not None, f"`{line}`: no such command"
    known = {"--help"} | {o for param in command.params for o in param.opts + param.secondary_opts}
    options = set(re.findall(r"--[a-z][a-z-]*", " ".join(rest)))
    assert options - known == set(), f"`{line}`: unknown options"
    assert main([*words[: len(words) - len(rest)], "--help"]) == 0


def test_help_lists_the_commands_a_user_was_shown_before(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name in (
        "serve",
        "demo",
        "db",
        "users",
        "prompts",
        "export",
        "train",
        "simulate",
        "worker",
    ):
        assert re.search(rf"│ {name}\s", shown), name
    for group, names in {
        "db": ["upgrade", "downgrade"],
        "users": ["create", "list"],
        "prompts": ["import"],
        "worker": ["sample", "train"],
    }.items():
        assert main([group, "--help"]) == 0
        listed = capsys.readouterr().out
        assert all(re.search(rf"│ {name}\s", listed) for name in names), group
