"""`pairwise serve` (one process) under pyinstrument, for `bench/serving.py --profile`.

pyinstrument samples one thread, and FastAPI runs sync handlers and dependencies in a
thread pool; here they run inline on the event loop's thread instead, so the whole label
path is in the profiled thread (one client at a time, so nothing is lost by not
overlapping them). SIGUSR1 starts the profiler, SIGUSR2 stops it and writes the text
report to $PROFILE_OUT (the session beside it): start-up and warm-up stay out of it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from pyinstrument import Profiler
from pyinstrument.session import Session


async def _inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
    return func(*args)


anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
profiler = Profiler(interval=0.001, async_mode="disabled")


def _begin(*_: object) -> None:
    profiler.start()


def _end(*_: object) -> None:
    session = profiler.stop()
    out = Path(os.environ["PROFILE_OUT"])
    session.save(str(out.with_suffix(".pyisession")))  # `pyinstrument --load FILE` re-renders it
    out.write_text(by_package(session) + "\n" + profiler.output_text(unicode=True))


def package(path: str, caller: str) -> str:
    """Whose code a frame is: a site-packages package, ours, or (for the standard library,
    built-ins and pyinstrument's own `[self]` frames) whoever called it."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/app/" in path or "/bench/" in path:
        return "app (Pairwise)"
    return caller


def by_package(session: Session) -> str:
    """Wall time by the package whose code was running (self time, children excluded)."""
    totals: Counter[str] = Counter()
    stack = [(session.root_frame(), "event loop (idle, asyncio)")]
    while stack:
        frame, caller = stack.pop()
        if frame is None:
            continue
        name = package(frame.file_path or "", caller)
        children = list(frame.children)
        totals[name] += frame.time - sum(c.time for c in children)
        stack.extend((c, name) for c in children)
    whole = sum(totals.values()) or 1.0
    lines = [f"{share / whole:6.1%}  {name}" for name, share in totals.most_common(12)]
    return (
        "wall time by package (self time; stdlib counted to its caller):\n"
        + "\n".join(lines)
        + "\n"
    )


signal.signal(signal.SIGUSR1, _begin)
signal.signal(signal.SIGUSR2, _end)

from app.cli import main  # noqa: E402

sys.exit(main())
