"""`pairwise simulate` end to end: simulated accounts label through a live server's HTTP API."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import cli
from app.auth.service import create_user
from app.db import make_engine, make_sessionmaker, transaction
from app.main import create_app
from app.migrate import upgrade
from app.models import ApiToken, Assignment, Comparison, Completion, Pair, Project, User
from app.projects.service import ensure_default_project
from app.settings import Settings
from app.simulate.server import serve_in_thread
from app.winrates.service import leaderboard
from tests import factories as f

PAIRS = 30
SHORT = "Paris is the capital of France."
LONG = "The capital of France is Paris, a city that has been the seat of government for ages."


@dataclass
class Live:
    url: str
    settings: Settings
    sessionmaker: sessionmaker[Session]


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    settings = Settings(
        pairwise_env="test",
        data_dir=tmp_path,
        secret_key="s" * 48,
        sampler_enabled=False,
        database_url=f"sqlite:///{tmp_path / 'sim.db'}",
    )  # type: ignore[call-arg]
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    monkeypatch.setattr("app.settings.get_settings", lambda: settings)
    with serve_in_thread(create_app(settings, engine)) as url:
        yield Live(url, settings, make_sessionmaker(engine))
    engine.dispose()


def head_to_head_pairs(live: Live) -> int:
    """PAIRS pairs of v0 against v1 where v1 always answers concisely; returns v1's id."""
    rng = random.Random(5)
    with transaction(live.sessionmaker) as db:
        project = ensure_default_project(db, "tiny")
        v0, v1 = (
            f.make_version(db, project, 0, status="archived"),
            f.make_version(db, project, 1, status="active"),
        )
        for _ in range(PAIRS):
            if rng.random() < 0.5:  # v1's completion is sometimes a, sometimes b
                f.head_to_head_pair(db, project, v1, v0, text_a=SHORT, text_b=LONG)
            else:
                f.head_to_head_pair(db, project, v0, v1, text_a=LONG, text_b=SHORT)
        return v1.id


def simulate(live: Live, *extra: str) -> int:
    args = ["simulate", "--rule", "concise", "--url", live.url, "--skip-rate", "0", *extra]
    return cli.main([*args, "--idle-timeout", "1"])


def test_simulated_evaluators_label_through_the_api(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = head_to_head_pairs(live)
    assert simulate(live, "--evaluators", "3", "--labels", "20", "--seed", "1") == 0
    out = capsys.readouterr().out
    assert "labels 20 " in out and "errors 0 " in out
    assert "GET /pairs/next" in out and "POST /comparisons" in out and "p99 ms" in out
    # One round trip per label: each submission's answer carries the next lease, so the
    # evaluators ask for a pair only to start (and once the queue is empty).
    gets = int(re.search(r"GET /pairs/next\s+(\d+)", out).group(1))
    posts = int(re.search(r"POST /comparisons\s+(\d+)", out).group(1))
    assert posts == 20 and gets <= 3 + 3

    with transaction(live.sessionmaker) as db:
        stored = db.execute(
            select(Comparison.choice, Completion.policy_version_id, User.username, User.simulated)
            .join(Pair, Pair.id == Comparison.pair_id)
            .join(Completion, Completion.id == Pair.completion_a_id)
            .join(User, User.id == Comparison.user_id)
        ).all()
        assert len(stored) == 20
        assert {row.username for row in stored} <= {"sim-001", "sim-002", "sim-003"}
        assert len({row.username for row in stored}) >= 2  # they really worked concurrently
        assert all(row.simulated for row in stored)
        # No noise: the hidden rule always picked v1's (shorter) completion, whichever side
        # the server showed it on — so screen sides were mapped back correctly.
        assert all((row.choice == "a") == (row.policy_version_id == v1) for row in stored)

    # A second run reuses the accounts, labels what is left and stops once the queue is empty.
    assert simulate(live, "--evaluators", "3", "--noise", "0.5", "--seed", "2") == 0
    assert "labels 10 " in capsys.readouterr().out
    with transaction(live.sessionmaker) as db:
        assert db.scalar(select(func.count()).select_from(Comparison)) == PAIRS
        assert db.scalar(select(func.count()).where(User.simulated.is_(True))) == 3
        tokens = db.scalars(select(ApiToken).where(ApiToken.name == "simulate")).all()
        assert len(tokens) == 6 and sum(t.revoked_at is None for t in tokens) == 3
        project = db.scalars(select(Project)).one()
        board = leaderboard(db, project, evaluators="simulated", bootstrap=50)
        rated = {v.number: v for v in board.versions}
        assert board.comparisons == PAIRS
        assert rated[1].rating is not None and rated[1].rating > 0
        assert rated[1].vs_reference is not None and rated[1].vs_reference.rate > 0.6


def test_bad_rule_or_real_account_name_stores_nothing(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["simulate", "--rule", "shortest", "--url", live.url]) == 2
    assert "unknown rule 'shortest'" in capsys.readouterr().err
    with transaction(live.sessionmaker) as db:
        ensure_default_project(db, "tiny")
        create_user(db, live.settings, "sim-002", "a real password", {"evaluator"})
    assert simulate(live, "--evaluators", "3") == 2
    assert "'sim-002' exists and is a real account" in capsys.readouterr().err
    assert simulate(live, "--project", "nope") == 2
    assert "no project named 'nope' (projects: default)" in capsys.readouterr().err
    with transaction(live.sessionmaker) as db:
        assert db.scalar(select(func.count()).where(User.simulated.is_(True))) == 0
    assert cli.main(["simulate", "--rule", "concise", "--noise", "1.5"]) == 2
    assert "must be between 0 and 1" in capsys.readouterr().err


def test_skipped_pairs_go_back_with_a_reason(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction(live.sessionmaker) as db:
        project = ensure_default_project(db, "tiny")
        v0 = f.make_version(db, project, 0, status="active")
        for _ in range(5):
            f.head_to_head_pair(db, project, v0, v0, text_a=SHORT, text_b=LONG, kind="live")
    args = ["--evaluators", "1", "--skip-rate", "1", "--idle-timeout", "1"]
    assert cli.main(["simulate", "--rule", "no-lists", "--url", live.url, *args]) == 0
    assert "labels 0  skips 5  errors 0" in capsys.readouterr().out
    with transaction(live.sessionmaker) as db:
        reasons = db.scalars(select(Assignment.skip_reason).where(Assignment.status == "skipped"))
        assert list(reasons) == ["Other"] * 5
        assert db.scalar(select(func.count()).select_from(Comparison)) == 0


def test_python_dash_m_finds_the_registered_command(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 48}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "simulate", "--rule", "shortest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown rule 'shortest'" in done.stderr
