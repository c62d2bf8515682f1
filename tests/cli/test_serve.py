"""`pairwise serve`: worker processes, and SQLite writers queued fairly within a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.db import FairLock, make_engine
from app.settings import Settings


def test_fair_lock_hands_the_turn_to_waiters_in_arrival_order() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    order: list[int] = []
    threads = []
    for n in range(5):
        t = threading.Thread(target=lambda n=n: (lock.acquire(5), order.append(n), lock.release()))
        t.start()
        threads.append(t)
        while len(lock._waiting) < n + 1:  # this waiter is in the queue before the next comes
            time.sleep(0.001)
    lock.release()
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_fair_lock_gives_up_after_its_timeout_and_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    assert not lock.acquire(0.05)
    lock.release()
    assert lock.acquire(0.05)  # the abandoned waiter did not keep the turn


def test_sqlite_writers_in_threads_all_commit(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))

    def write(n: int) -> None:
        for i in range(20):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n * 100 + i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 160
    engine.dispose()


def test_worker_count_defaults_to_one_where_more_would_not_help(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "secret_key": "s" * 48}
    assert Settings(**base).resolved_web_workers() == 1  # type: ignore[arg-type]  # SQLite
    postgres = {**base, "database_url": "postgresql://x@127.0.0.1/db"}
    assert Settings(**postgres).resolved_web_workers() == 1  # type: ignore[arg-type]  # sampler
    alone = Settings(**postgres, sampler_enabled=False)  # type: ignore[arg-type]
    assert alone.resolved_web_workers() == max(1, min(os.cpu_count() or 1, 8))
    assert Settings(**base, web_workers=3).resolved_web_workers() == 3  # type: ignore[arg-type]


def _cli(*args: str, env: dict[str, str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,  # type: ignore[call-overload]
    )


def test_serve_refuses_several_workers_with_the_embedded_sampler(tmp_path: Path) -> None:
    proc = _cli("serve", "--workers", "2", env={"DATA_DIR": str(tmp_path)})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "SAMPLER_ENABLED=false" in err and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_with_two_workers_serves_the_login_page(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "SAMPLER_ENABLED": "false"}
    assert (
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            env={**os.environ, **env},
            capture_output=True,
            timeout=120,
        ).returncode
        == 0
    )
    port = _free_port()
    proc = _cli("serve", "--workers", "2", "--port", str(port), env=env)
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert status == 200
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and "/static/app.css" in login.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "2 process(es), uvloop event loop, httptools HTTP parser" in out
    assert proc.returncode == 0


def test_serve_falls_back_to_the_pure_python_loop_and_parser_when_uvloop_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.util

    import uvicorn

    from app import cli

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAMPLER_ENABLED", "false")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("app.settings.get_settings", lambda: Settings())
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda n, *a: None if n in ("uvloop", "httptools") else real(n, *a),
    )
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    assert cli.main(["serve", "--port", "8124"]) == 0
    [kw] = calls
    assert (kw["loop"], kw["http"]) == ("asyncio", "h11")
    assert "asyncio event loop, h11 HTTP parser" in capsys.readouterr().out
