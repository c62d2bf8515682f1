"""`pairwise serve` with the request handlers run on the event loop's own thread.

pyinstrument samples one thread; FastAPI runs sync handlers and dependencies in a thread
pool. Running them inline keeps the whole label path in the profiled thread (one client
at a time, so nothing is lost by not overlapping them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import anyio.to_thread


async def _inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
    return func(*args)


anyio.to_thread.run_sync = _inline  # type: ignore[assignment]

from app.cli import main  # noqa: E402

sys.exit(main())
