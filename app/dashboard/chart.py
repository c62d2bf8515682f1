"""Geometry of the labels-per-day bar chart, drawn server-side as SVG (no script, no style)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 18, 34


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str  # the date under every few bars, else ""
    title: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: list[tuple[str, float]]
    bars: list[Bar]


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (1, 2, 5 × a power of ten)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def bar_chart(days: list[tuple[date, int]]) -> BarChart:
    """One bar per day; the y axis runs from 0 to a round number above the busiest day."""
    top_value = _nice_max(max((n for _, n in days), default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    every = max(1, math.ceil(len(days) / 6))  # about six date labels along the axis
    bars = []
    for k, (day, n) in enumerate(days):
        h = plot_h * n / top_value
        bars.append(
            Bar(
                day=day,
                count=n,
                x=round(LEFT + slot * k + slot * 0.15, 1),
                y=round(TOP + plot_h - h, 1),
                width=round(slot * 0.7, 1),
                height=round(h, 1),
                label=day.strftime("%d %b") if (len(days) - 1 - k) % every == 0 else "",
                title=f"{day.isoformat()}: {n} label{'' if n == 1 else 's'}",
            )
        )
    ticks = [
        (f"{v:,}", round(TOP + plot_h - plot_h * v / top_value, 1))
        for v in sorted({0, top_value // 2, top_value})
    ]
    return BarChart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM, ticks, bars)
