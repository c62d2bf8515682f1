"""Subprocesses of the project's own commands, each in its own process group, always reaped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], seconds: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def base_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Environment of a `pairwise` process: this checkout's code, test mode, no embedded sampler."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "f" * 48,
        "PAIRWISE_ENV": "test",
        "SAMPLER_ENABLED": "false",
        "RETRAIN_EVERY_LABELS": "0",
        "TORCH_THREADS": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


class Proc:
    """One `python -m app.cli ...` process; its output goes to a log file for failure messages."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], log: Path, preexec: Callable[[], None] | None
    ) -> None:
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                cwd=ROOT,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: signals reach its children too
                preexec_fn=preexec,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Procs:
    """Starts processes and kills whatever is still running when the test ends."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Proc] = []

    def start(
        self,
        name: str,
        args: list[str],
        env: Mapping[str, str],
        preexec: Callable[[], None] | None = None,
    ) -> Proc:
        proc = Proc(args, env, self.folder / f"{name}.log", preexec)
        self.started.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.started:
            if proc.alive():
                proc.signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=30)


def healthy(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve(procs: Procs, name: str, env: Mapping[str, str], port: int) -> tuple[Proc, str]:
    """`pairwise serve` on 127.0.0.1:`port`, once /healthz answers 200."""
    proc = procs.start(name, ["serve", "--host", "127.0.0.1", "--port", str(port)], env)
    base_url = f"http://127.0.0.1:{port}"
    up = wait_for(lambda: healthy(base_url) or not proc.alive(), 60, every=0.2)
    if not up or not proc.alive():
        raise AssertionError(f"`pairwise serve` did not come up:\n{proc.output()[-3000:]}")
    return proc, base_url
