"""Geometry of the leaderboard chart, drawn server-side as SVG (no script, no inline style)."""

from __future__ import annotations

from dataclasses import dataclass

from app.winrates.schemas import VersionRating

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    y_low: float
    y_high: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    ticks: list[tuple[str, float]]
    half: float  # y of the 50 % line
    points: list[Point]


def _y(probability: float) -> float:
    return TOP + (1.0 - probability) * (HEIGHT - TOP - BOTTOM)


def chart(versions: list[VersionRating]) -> Chart | None:
    """P(beats the reference) per rated version with its interval; None when nothing is rated."""
    rated = [v for v in versions if v.win_probability is not None]
    if not rated:
        return None
    step = (WIDTH - LEFT - RIGHT) / len(rated)
    points = []
    for k, v in enumerate(rated):
        p, low, high = v.win_probability, v.win_probability_low, v.win_probability_high
        assert p is not None and low is not None and high is not None
        points.append(
            Point(
                label=f"v{v.number}",
                x=round(LEFT + step * (k + 0.5), 1),
                y=round(_y(p), 1),
                y_low=round(_y(low), 1),
                y_high=round(_y(high), 1),
                title=f"v{v.number}: {p:.0%} ({low:.0%}–{high:.0%})",
            )
        )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        ticks=[(f"{t:.0%}", round(_y(t), 1)) for t in TICKS],
        half=round(_y(0.5), 1),
        points=points,
    )
