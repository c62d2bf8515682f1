"""Every chart in the app, drawn on the server as inline SVG.

Server-side SVG because it needs no JavaScript library (nothing to install or load, no
`unsafe-eval`), passes the strict Content-Security-Policy (no script, no inline style:
colours come from classes in app.css), works without htmx and in an htmx fragment alike,
and prints. Numbers are formatted here; every piece of text goes through `escape`.

Three kinds: `line_chart` (several series, each with an optional interval band, an
optional reference line), `bar_chart` (one bar per category, optional error bars) and
`point_chart` (one point per category with its interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

__all__ = ["Bar", "Series", "bar_chart", "line_chart", "nice_max", "percent", "point_chart"]

TAGS = frozenset({"svg", "title", "g", "line", "polyline", "polygon", "circle", "rect", "text"})
SERIES_CLASSES = 6  # .series-0 … .series-5 in app.css; more series reuse the colours


@dataclass(frozen=True)
class Series:
    """One line: (x, y) points; `band` is an interval (x, low, high) shaded under it."""

    name: str
    points: Sequence[tuple[float, float]]
    band: Sequence[tuple[float, float, float]] = ()


@dataclass(frozen=True)
class Bar:
    """One category of a bar or point chart; `low`/`high` draw an error bar."""

    label: str  # under the axis ("" for none)
    value: float
    low: float | None = None
    high: float | None = None
    title: str = ""  # the tooltip
    data: Mapping[str, str] = field(default_factory=dict)  # data-* attributes of its group


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    y0: float
    y1: float

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return round(self.bottom - (value - self.y0) / span * (self.bottom - self.top), 1)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def percent(value: float) -> str:
    return f"{value:.0%}"


def nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 5 × a power of ten)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _attrs(attrs: Mapping[str, object]) -> Markup:
    parts = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        parts.append(Markup(' {}="{}"').format(key.replace("_", "-"), value))
    return Markup("").join(parts)


def _el(tag: str, content: object = None, **attrs: object) -> Markup:
    """An SVG element; `class_` becomes `class`; text content and attributes are escaped."""
    if tag not in TAGS:
        raise ValueError(f"not an SVG element this module draws: {tag!r}")
    name = Markup(tag)  # noqa: S704 - one of TAGS, never data
    if "class_" in attrs:
        attrs = {"class": attrs.pop("class_"), **attrs}
    if content is None:
        return Markup("<{}{}/>").format(name, _attrs(attrs))
    return Markup("<{}{}>{}</{}>").format(name, _attrs(attrs), content, name)


def _svg(frame: _Frame, title: str, body: list[Markup], css_class: str) -> Markup:
    return _el(
        "svg",
        Markup("").join([_el("title", escape(title)), *body]),
        class_=f"chart {css_class}".strip(),
        viewBox=f"0 0 {frame.width} {frame.height}",
        role="img",
        aria_label=title,
    )


def _y_axis(
    frame: _Frame, ticks: Sequence[float], fmt: Callable[[float], str], reference: float | None
) -> list[Markup]:
    out = []
    for t in ticks:
        y = frame.y(t)
        out.append(_el("line", class_="grid-line", x1=frame.left, x2=frame.right, y1=y, y2=y))
        out.append(_el("text", fmt(t), class_="tick", x=frame.left - 6, y=y + 4, text_anchor="end"))
    if reference is not None:
        y = frame.y(reference)
        out.append(_el("line", class_="half-line", x1=frame.left, x2=frame.right, y1=y, y2=y))
    out.append(
        _el("line", class_="axis", x1=frame.left, x2=frame.left, y1=frame.top, y2=frame.bottom)
    )
    out.append(
        _el("line", class_="axis", x1=frame.left, x2=frame.right, y1=frame.bottom, y2=frame.bottom)
    )
    return out


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str = "",
    y_range: tuple[float, float] | None = None,
    y_format: Callable[[float], str] = _fmt,
    reference: float | None = None,
    size: tuple[int, int] = (320, 150),
    css_class: str = "small",
) -> Markup:
    """Lines of (x, y) points with optional interval bands; a legend when several series."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return Markup('<p class="muted chart-empty">{} — no points yet</p>').format(title)
    xs = [x for s in drawn for x, _ in s.points] + [x for s in drawn for x, _, _ in s.band]
    ys = [y for s in drawn for _, y in s.points]
    ys += [v for s in drawn for _, lo, hi in s.band for v in (lo, hi)]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    if y_range is not None:
        y0, y1 = y_range
    else:
        y0, y1 = min(ys), max(ys)
        if y1 == y0:
            y0, y1 = y0 - 0.5, y1 + 0.5
    width, height = size
    legend = len(drawn) > 1
    frame = _Frame(width, height, 44, width - 12, 24 + 12 * legend, height - 22, y0, y1)

    def sx(x: float) -> float:
        return round(frame.left + (x - x0) / (x1 - x0) * (frame.right - frame.left), 1)

    body = [_el("text", title, class_="chart-title", x=frame.left, y=14)]
    body += _y_axis(
        frame, (y0, y1) if y_range is None else _range_ticks(y0, y1), y_format, reference
    )
    body.append(_el("text", _fmt(x0), class_="tick", x=frame.left, y=height - 6))
    body.append(
        _el(
            "text",
            f"{x_label} {_fmt(x1)}".strip(),
            class_="tick",
            x=frame.right,
            y=height - 6,
            text_anchor="end",
        )
    )
    for k, s in enumerate(drawn):
        colour = f"series-{k % SERIES_CLASSES}"
        group = []
        if s.band:
            upper = [f"{sx(x)},{frame.y(hi)}" for x, _, hi in s.band]
            lower = [f"{sx(x)},{frame.y(lo)}" for x, lo, _ in reversed(s.band)]
            group.append(_el("polygon", class_=f"band {colour}", points=" ".join(upper + lower)))
        path = " ".join(f"{sx(x)},{frame.y(y)}" for x, y in s.points)
        group.append(_el("polyline", class_=f"line {colour}", fill="none", points=path))
        lx, ly = s.points[-1]
        group.append(_el("circle", class_=f"dot {colour}", cx=sx(lx), cy=frame.y(ly), r=2.5))
        if legend:
            group.append(
                _el("text", s.name, class_=f"legend {colour}", x=frame.left + 90 * k, y=30)
            )
        body.append(_el("g", Markup("").join(group), class_="series", data_series=s.name))
    return _svg(frame, title, body, css_class)


def _range_ticks(y0: float, y1: float) -> list[float]:
    return [y0 + (y1 - y0) * k / 4 for k in range(5)]


def _categories(
    bars: Sequence[Bar], width: int, height: int, y_range: tuple[float, float]
) -> tuple[_Frame, float]:
    frame = _Frame(width, height, 56, width - 16, 18, height - 36, *y_range)
    return frame, (frame.right - frame.left) / max(len(bars), 1)


def _error_bar(frame: _Frame, x: float, low: float, high: float) -> list[Markup]:
    y_low, y_high = frame.y(low), frame.y(high)
    return [
        _el("line", class_="whisker", x1=x, x2=x, y1=y_low, y2=y_high),
        _el("line", class_="whisker", x1=round(x - 6, 1), x2=round(x + 6, 1), y1=y_low, y2=y_low),
        _el("line", class_="whisker", x1=round(x - 6, 1), x2=round(x + 6, 1), y1=y_high, y2=y_high),
    ]


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    show_values: bool = True,
    group_class: str = "category",
    size: tuple[int, int] = (640, 220),
    css_class: str = "",
) -> Markup:
    """One bar per category from 0 to a round maximum, the value above each non-zero bar."""
    top = nice_max(max((b.high if b.high is not None else b.value for b in bars), default=0))
    frame, slot = _categories(bars, *size, (0, top))
    body = _y_axis(frame, sorted({0, top // 2, top}), y_format, None)
    for k, b in enumerate(bars):
        x = frame.left + slot * k + slot * 0.15
        w = round(slot * 0.7, 1)
        mid = round(x + slot * 0.35, 1)
        y = frame.y(b.value)
        parts = [_el("title", b.title)] if b.title else []
        h = round(frame.bottom - y, 1)
        parts.append(_el("rect", class_="bar", x=round(x, 1), y=y, width=w, height=h))
        if b.low is not None and b.high is not None:
            parts += _error_bar(frame, mid, b.low, b.high)
        if show_values and b.value:
            parts.append(
                _el(
                    "text",
                    y_format(b.value),
                    class_="bar-count",
                    x=mid,
                    y=round(y - 3, 1),
                    text_anchor="middle",
                )
            )
        if b.label:
            parts.append(
                _el(
                    "text", b.label, class_="tick", x=mid, y=frame.bottom + 16, text_anchor="middle"
                )
            )
        data = {f"data-{name}": v for name, v in b.data.items()}
        body.append(_el("g", Markup("").join(parts), class_=group_class, **data))
    return _svg(frame, title, body, css_class)


def point_chart(
    points: Sequence[Bar],
    *,
    title: str,
    y_range: tuple[float, float] = (0.0, 1.0),
    y_format: Callable[[float], str] = percent,
    reference: float | None = 0.5,
    group_class: str = "category",
    size: tuple[int, int] = (640, 280),
    css_class: str = "",
) -> Markup:
    """One point per category with its interval as an error bar, against a reference line."""
    frame, slot = _categories(points, *size, y_range)
    body = _y_axis(frame, _range_ticks(*y_range), y_format, reference)
    for k, p in enumerate(points):
        x = round(frame.left + slot * (k + 0.5), 1)
        parts = [_el("title", p.title)] if p.title else []
        if p.low is not None and p.high is not None:
            parts += _error_bar(frame, x, p.low, p.high)
        parts.append(_el("circle", class_="point", cx=x, cy=frame.y(p.value), r=5))
        if p.label:
            parts.append(
                _el("text", p.label, class_="tick", x=x, y=frame.bottom + 18, text_anchor="middle")
            )
        data = {f"data-{name}": v for name, v in p.data.items()}
        body.append(_el("g", Markup("").join(parts), class_=group_class, **data))
    return _svg(frame, title, body, css_class)
