"""Line charts of a run's curves as server-rendered inline SVG (no JS, no inline styles)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 320, 150, 34
# Curves worth a chart, in display order; others are listed as numbers only.
PREFERRED = (
    "loss",
    "reward",
    "rewards/reward_model/mean",
    "kl",
    "rewards/length_chars/mean",
    "rewards/accuracies",
    "rewards/margins",
    "accuracy",
    "margin",
)
METRIC_NAMES = {
    "rewards/reward_model/mean": "reward",
    "rewards/length_chars/mean": "length (chars)",
    "rewards/accuracies": "accuracy",
    "rewards/margins": "margin",
}
STAGE_NAMES = {"reward": "reward model", "policy": "policy", "evaluate": "evaluation"}


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def line_chart(title: str, points: Sequence[Sequence[float]]) -> Markup:
    """One small chart; `points` are (step, value) pairs."""
    pts = [(float(p[0]), float(p[1])) for p in points if len(p) == 2]
    label = escape(title)
    if not pts:
        return Markup('<p class="muted">{} — no points yet</p>').format(label)
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    right, bottom = WIDTH - PAD, HEIGHT - PAD

    def sx(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * inner_w

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / (y1 - y0) * inner_h

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.8"/>' for x, y in pts[-1:])
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
        f"<title>{label}</title>"
        f'<text x="{PAD}" y="16" class="chart-title">{label}</text>'
        f'<line class="axis" x1="{PAD}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>'
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end" class="tick">{_fmt(y1)}</text>'
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" class="tick">{_fmt(y0)}</text>'
        f'<text x="{PAD}" y="{HEIGHT - PAD + 14}" class="tick">{_fmt(x0)}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 14}" text-anchor="end" class="tick">'
        f"step {_fmt(x1)}</text>"
        f'<polyline class="line" fill="none" points="{path}"/>{dots}</svg>'
    )
    return Markup(svg)  # noqa: S704 - built from numbers and an escaped label only


def run_charts(curves: dict[str, list[list[float]]]) -> list[Markup]:
    """Charts for the curves that matter (loss, reward, KL…), stage by stage."""
    charts = []
    for key in sorted(curves, key=_order):
        stage, _, metric = key.partition(":")
        if metric in PREFERRED:
            name = METRIC_NAMES.get(metric, metric)
            charts.append(line_chart(f"{STAGE_NAMES.get(stage, stage)} · {name}", curves[key]))
    return charts


def _order(key: str) -> tuple[int, int]:
    stage, _, metric = key.partition(":")
    stage_rank = list(STAGE_NAMES).index(stage) if stage in STAGE_NAMES else 9
    metric_rank = PREFERRED.index(metric) if metric in PREFERRED else 99
    return stage_rank, metric_rank
