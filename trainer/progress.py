"""What a run reports while it works: overall progress across stages, log tail, curves.

The stage thread writes it through `RunState.reporter(stage)`; the heartbeat thread reads
`heartbeat_payload()` and writes it to the run row, so the web page shows it live. Each
report sets `changed`, so the row is written at every logging step, not only on the
lease's heartbeat, and `report_seconds` (the time between logging steps) tells the run
page how often to poll.

Curves are (step, value) points on the trainer's step axis. Past MAX_CURVE_POINTS a curve
keeps every other point and from then on records every other report, so it stays evenly
spaced, and its x values keep increasing.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from trainer.types import Progress

# Share of the overall progress bar each stage takes (re-normalised over the stages a run has).
STAGE_WEIGHTS = {"data": 0.05, "sft": 0.2, "reward": 0.35, "policy": 0.45, "evaluate": 0.15}
MAX_CURVE_POINTS = 400
LOG_LINES = 200


class RunState:
    """Shared between the stage thread and the heartbeat thread (guarded by a lock)."""

    def __init__(self, stages: list[str], bar: Any = None) -> None:
        self.offsets: dict[str, tuple[float, float]] = {}
        self.plan(stages)
        self.lock = threading.Lock()
        self.progress = 0.0
        self.stage = "starting"
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.curves: dict[str, list[list[float]]] = {}
        self._reports: dict[str, int] = {}  # reports seen per curve
        self._stride: dict[str, int] = {}  # record every n-th report (doubles when thinned)
        self._last_x: dict[str, float] = {}
        self.changed = threading.Event()
        self._last_report: float | None = None
        self.report_seconds: float | None = None  # smoothed time between logging steps
        self.results: dict[str, Any] = {}
        self.cancel_requested = False
        self.lease_lost = False
        self.terminating = threading.Event()
        self.bar = bar
        self._last_message = ""
        self._stage_started = time.monotonic()

    def plan(self, stages: list[str]) -> None:
        """Each stage's share of the bar; set again once the recipe is read (it may add
        `sft`), while the run is still in its first stage."""
        total = sum(STAGE_WEIGHTS[s] for s in stages)
        offsets: dict[str, tuple[float, float]] = {}
        start = 0.0
        for s in stages:
            width = STAGE_WEIGHTS[s] / total
            offsets[s] = (start, width)
            start += width
        self.offsets = offsets

    def should_stop(self) -> bool:
        return self.cancel_requested or self.lease_lost or self.terminating.is_set()

    def note(self, message: str) -> None:
        with self.lock:
            self.log.append(f"{time.strftime('%H:%M:%S')} {message}")
        if self.bar is not None:
            self.bar.set_description_str(message[:60])

    def enter(self, stage: str) -> None:
        self.close_stage()
        with self.lock:
            self.stage = stage
            self.progress = max(self.progress, self.offsets.get(stage, (self.progress, 0))[0])
        self._update_bar()
        self.note(f"stage {stage}")

    def close_stage(self) -> None:
        """Record the seconds the current stage took (in `results["timings"]`)."""
        now = time.monotonic()
        with self.lock:
            timings = self.results.setdefault("timings", {})
            timings[self.stage] = round(now - self._stage_started + timings.get(self.stage, 0), 2)
            self._stage_started = now

    def reporter(self, stage: str) -> Progress:
        """The `Progress` callback handed to one stage."""
        start, width = self.offsets[stage]

        def report(
            fraction: float, message: str, metrics: dict[str, Any], step: int | None = None
        ) -> None:
            with self.lock:
                self.progress = max(self.progress, start + width * max(0.0, min(1.0, fraction)))
                for key, value in metrics.items():
                    if isinstance(value, int | float) and math.isfinite(value):
                        self._add_point(f"{stage}:{key}", step, float(value))
                if metrics:
                    self._time_report()
            if message and message != self._last_message:
                self._last_message = message
                self.note(message)
            self._update_bar()
            self.changed.set()

        return report

    def _add_point(self, key: str, step: int | None, value: float) -> None:
        """One report of a curve; the caller holds the lock."""
        seen = self._reports[key] = self._reports.get(key, 0) + 1
        # The trainer's step when given (else the report count), never going backwards.
        x = float(step) if step is not None else float(seen)
        last = self._last_x.get(key)
        if last is not None and x <= last:
            x = last + 1
        self._last_x[key] = x
        stride = self._stride.get(key, 1)
        if (seen - 1) % stride:
            return
        curve = self.curves.setdefault(key, [])
        curve.append([x, value])
        if len(curve) > MAX_CURVE_POINTS:
            del curve[1::2]  # keeps the first and the newest point
            self._stride[key] = stride * 2

    def _time_report(self) -> None:
        now = time.monotonic()
        if self._last_report is not None:
            gap = now - self._last_report
            previous = self.report_seconds
            self.report_seconds = gap if previous is None else 0.7 * previous + 0.3 * gap
        self._last_report = now

    def _update_bar(self) -> None:
        if self.bar is not None:
            self.bar.n = round(self.progress * 100, 1)
            self.bar.refresh()

    def metrics(self) -> dict[str, Any]:
        with self.lock:
            out = {**self.results, "curves": {k: list(v) for k, v in self.curves.items()}}
            if self.report_seconds is not None:
                out["report_seconds"] = round(self.report_seconds, 3)
            return out

    def heartbeat_payload(self) -> dict[str, Any]:
        with self.lock:
            log = "\n".join(self.log)
            progress, stage = self.progress, self.stage
        return {"progress": progress, "stage": stage, "metrics": self.metrics(), "log_tail": log}
