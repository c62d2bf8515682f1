"""A few `pairwise` commands run as child processes and stopped together (`pairwise demo`).

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in order with SIGTERM (the trainer gives its run
back to the queue, the sampler stops at the next token, the web server finishes open
requests). On Linux each child also gets SIGTERM should the supervisor itself die.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent process ends."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One command: its name, `pairwise` arguments, extra environment and log file."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    does: str = ""
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Supervisor:
    """Starts children, waits until one ends or a stop signal arrives, then stops them all."""

    def __init__(self, children: list[Child], *, grace_seconds: float = 60.0) -> None:
        self.children = children
        self.grace_seconds = grace_seconds
        self.stopping = threading.Event()
        self.signals = 0

    def start(self, base_env: Mapping[str, str]) -> None:
        for child in self.children:
            child.log.parent.mkdir(parents=True, exist_ok=True)
            out: IO[bytes]
            with child.log.open("ab") as out:
                # Our own interpreter and command line, never user input.
                child.popen = subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "app.cli", *child.args],
                    env={**base_env, **child.env},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )

    def install_signal_handlers(self) -> None:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            self.signals += 1
            if self.signals > 1:  # a second Ctrl-C: stop waiting for a clean stop
                for child in self.children:
                    self._send(child, signal.SIGKILL)
            self.stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    def wait_until(self, ready: Callable[[], bool], seconds: float) -> Child | None:
        """Poll `ready` until true; returns a child that ended meanwhile (None: all fine)."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            ended = self.ended()
            if ended is not None:
                return ended
            if ready():
                return None
            self.stopping.wait(0.5)
        return self.ended()

    def ended(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def watch(self) -> Child | None:
        """Block until a stop signal (returns None) or a child ends on its own (returns it)."""
        while not self.stopping.wait(0.5):
            ended = self.ended()
            if ended is not None:
                return ended
        return None

    def stop(self) -> dict[str, int | None]:
        """SIGTERM to every child still running, then wait; SIGKILL after the grace period."""
        for child in self.children:
            self._send(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        codes: dict[str, int | None] = {}
        for child in self.children:
            if child.popen is None:
                continue
            try:
                codes[child.name] = child.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._send(child, signal.SIGKILL)
                codes[child.name] = child.popen.wait()
        return codes

    @staticmethod
    def _send(child: Child, signum: int) -> None:
        if child.alive() and child.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.popen.pid, signum)


__all__ = ["Child", "Supervisor"]
