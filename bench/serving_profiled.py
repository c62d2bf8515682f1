"""`pairwise serve` (one process) under pyinstrument, for `bench/serving.py --profile`.

pyinstrument samples one thread, and FastAPI runs sync handlers and dependencies in a
thread pool; here they run inline on the event loop's thread instead, so the whole label
path is in the profiled thread (one client at a time, so nothing is lost by not
overlapping them). SIGUSR1 starts the profiler, SIGUSR2 stops it and writes the text
report to $PROFILE_OUT: start-up and the warm-up stay out of the profile.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from pyinstrument import Profiler


async def _inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
    return func(*args)


anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
profiler = Profiler(interval=0.001, async_mode="disabled")


def _begin(*_: object) -> None:
    profiler.start()


def _end(*_: object) -> None:
    profiler.stop()
    Path(os.environ["PROFILE_OUT"]).write_text(profiler.output_text(unicode=True))


signal.signal(signal.SIGUSR1, _begin)
signal.signal(signal.SIGUSR2, _end)

from app.cli import main  # noqa: E402

sys.exit(main())
