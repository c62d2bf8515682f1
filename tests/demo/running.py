"""A `pairwise demo` process under test: its output, its children's pids, and its fixtures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.procs import wait_for

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("web", "sampler", "trainer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Demo:
    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "demo", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        found = re.findall(r"^\s+(web|sampler|trainer)\s+pid (\d+)", self.output(), re.M)
        return {name: int(pid) for name, pid in found}

    def wait_started(self) -> dict[str, int]:
        up = wait_for(lambda: "Ctrl-C stops" in self.output() or self.popen.poll() is not None, 180)
        assert up and self.popen.poll() is None, self.output()[-3000:]
        return self.pids()


@pytest.fixture
def demo_env(tmp_path: Path, tiny_policy_dir: Path, tiny_reward_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": "",
        "SECRET_KEY": "d" * 48,
        "PAIRWISE_ENV": "test",
        "POLICY_BASE_MODEL": str(tiny_policy_dir),
        "REWARD_BASE_MODEL": str(tiny_reward_dir),
        "PAIR_BUFFER": "2",
        "PAIR_LOW_WATER": "1",
        "SAMPLE_BATCH_SIZE": "2",
        "MAX_NEW_TOKENS": "8",
        "SAMPLER_POLL_SECONDS": "0.5",
        "TRAINING_POLL_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def started() -> Iterator[list[Demo]]:
    demos: list[Demo] = []
    yield demos
    for demo in demos:  # a failed test must not leave processes behind
        for pid in demo.pids().values():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        if demo.popen.poll() is None:
            demo.popen.kill()
            demo.popen.wait(30)
