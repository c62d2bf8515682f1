"""A short-lived per-project memo of the dashboard's quality figures.

Alpha and the trust flags read every comparison of a project (about half a second at
200,000 on a small machine); they move slowly, so the dashboard recomputes them at most
once a minute per project and web process, and says how old they are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from app.models import utcnow

T = TypeVar("T")
TTL_SECONDS = 60.0


class Memo(Generic[T]):
    """Values by key, each kept for `ttl` seconds after it was computed."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: dict[int, tuple[float, datetime, T]] = {}

    def get(self, key: int, compute: Callable[[], T]) -> tuple[T, datetime]:
        """The kept value and when it was computed, or a fresh one."""
        with self._lock:
            item = self._items.get(key)
        if item is not None and time.monotonic() - item[0] < self.ttl:
            return item[2], item[1]
        value, at = compute(), utcnow()
        with self._lock:
            self._items[key] = (time.monotonic(), at, value)
        return value, at

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
