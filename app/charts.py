"""Every chart in the app, drawn on the server as inline SVG.

Server-side SVG because it needs no JavaScript library (nothing to install or load, no
`unsafe-eval`), passes the strict Content-Security-Policy (no script, no inline style:
colours come from classes in app.css), works without htmx and in an htmx fragment alike,
and prints. Numbers are formatted here; every piece of text goes through `escape`.

Five kinds: `line_chart` (several series, each with an optional interval band, an
optional reference line), `bar_chart` (one bar per category, optional error bars),
`point_chart` (one point per category with its interval), `heatmap` (a value per pair of
names, e.g. Cohen's kappa between two annotators) and `scatter_chart` (one point per item on
two axes, each optionally a link).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

__all__ = [
    "Bar",
    "Cell",
    "Point",
    "Series",
    "bar_chart",
    "heatmap",
    "line_chart",
    "nice_max",
    "percent",
    "point_chart",
    "scatter_chart",
]

TAGS = frozenset(
    {"svg", "title", "g", "a", "line", "polyline", "polygon", "circle", "rect", "text"}
)
SERIES_CLASSES = 6  # .series-0 … .series-5 in app.css; more series reuse the colours
HEAT_CLASSES = 5  # .heat-0 (lowest) … .heat-4 (highest) in app.css; .heat-none for no value


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
class Cell:
    """One cell of a heatmap: the value between `row` and `col` (None: undefined)."""

    row: str
    col: str
    value: float | None
    title: str = ""  # the tooltip
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Point:
    """One point of a scatter chart; `href` makes it a link (a path of this app)."""

    x: float
    y: float
    title: str = ""
    href: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


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


def _data(data: Mapping[str, str]) -> dict[str, str]:
    return {f"data-{name}": v for name, v in data.items()}


def heat_class(value: float | None, value_range: tuple[float, float]) -> str:
    """The colour class of a value: HEAT_CLASSES equal steps over `value_range`."""
    if value is None:
        return "heat-none"
    low, high = value_range
    share = (min(max(value, low), high) - low) / ((high - low) or 1.0)
    return f"heat-{min(int(share * HEAT_CLASSES), HEAT_CLASSES - 1)}"


def heatmap(
    cells: Sequence[Cell],
    *,
    title: str,
    names: Sequence[str] | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    value_format: Callable[[float], str] = lambda v: f"{v:.2f}",
    cell_size: int = 34,
    css_class: str = "heatmap",
) -> Markup:
    """A square grid, rows and columns the same `names` (by default every name the cells
    use, in order of appearance); each cell coloured by its value and showing it."""
    if not cells:
        return Markup('<p class="muted chart-empty">{} — no values yet</p>').format(title)
    if names is None:
        names = list(dict.fromkeys(n for c in cells for n in (c.row, c.col)))
    index = {n: k for k, n in enumerate(names)}
    label_w = min(12 + 7 * max(len(n) for n in names), 160)
    # Column names are written upwards at 60 degrees, so they need about as much room above
    # the grid as the row names need on its left (and the title a line above that).
    left, top = max(label_w, 40), label_w + 24
    size = cell_size * len(names)
    width = left + size + label_w // 2 + 12
    frame = _Frame(width, top + size + 12, left, left + size, top, top + size, 0, 1)
    body = [_el("text", title, class_="chart-title", x=4, y=14)]
    for n, k in index.items():
        mid = round(left + cell_size * (k + 0.5), 1)
        y = round(top + cell_size * (k + 0.5) + 4, 1)
        body.append(_el("text", n, class_="tick", x=left - 6, y=y, text_anchor="end"))
        body.append(
            _el(
                "text",
                n,
                class_="tick",
                x=mid,
                y=top - 6,
                transform=f"rotate(-60 {mid} {top - 6})",
            )
        )
    for c in cells:
        if c.row not in index or c.col not in index:
            continue
        x, y = left + cell_size * index[c.col], top + cell_size * index[c.row]
        text = "—" if c.value is None else value_format(c.value)
        parts = [_el("title", c.title or f"{c.row} · {c.col}: {text}")]
        parts.append(
            _el(
                "rect",
                class_=f"cell {heat_class(c.value, value_range)}",
                x=x,
                y=y,
                width=cell_size,
                height=cell_size,
            )
        )
        parts.append(
            _el(
                "text",
                text,
                class_="cell-value",
                x=x + cell_size / 2,
                y=y + cell_size / 2 + 4,
                text_anchor="middle",
            )
        )
        body.append(_el("g", Markup("").join(parts), class_="heat-cell", **_data(c.data)))
    return _svg(frame, title, body, css_class)


def scatter_chart(
    points: Sequence[Point],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_range: tuple[float, float] = (0.0, 1.0),
    x_format: Callable[[float], str] = percent,
    y_format: Callable[[float], str] = percent,
    group_class: str = "scatter-point",
    size: tuple[int, int] = (480, 320),
    css_class: str = "",
) -> Markup:
    """One point per item on two axes; a point with `href` is a link."""
    if not points:
        return Markup('<p class="muted chart-empty">{} — no points yet</p>').format(title)
    width, height = size
    frame = _Frame(width, height, 56, width - 16, 24, height - 40, *y_range)
    x0, x1 = x_range

    def sx(x: float) -> float:
        share = (x - x0) / ((x1 - x0) or 1.0)
        return round(frame.left + share * (frame.right - frame.left), 1)

    body = [_el("text", title, class_="chart-title", x=frame.left, y=14)]
    body += _y_axis(frame, _range_ticks(*y_range), y_format, None)
    for t in _range_ticks(*x_range):
        body.append(
            _el(
                "text",
                x_format(t),
                class_="tick",
                x=sx(t),
                y=frame.bottom + 16,
                text_anchor="middle",
            )
        )
    body.append(
        _el("text", x_label, class_="axis-label", x=frame.right, y=height - 4, text_anchor="end")
    )
    body.append(
        _el(
            "text", y_label, class_="axis-label", x=frame.left, y=frame.top - 4, text_anchor="start"
        )
    )
    for p in points:
        parts = [_el("title", p.title)] if p.title else []
        parts.append(_el("circle", class_="point", cx=sx(p.x), cy=frame.y(p.y), r=5))
        mark = Markup("").join(parts)
        if p.href:
            if not p.href.startswith("/") or p.href.startswith("//"):
                raise ValueError(f"a chart links only to this app's paths: {p.href!r}")
            mark = _el("a", mark, href=p.href)
        body.append(_el("g", mark, class_=group_class, **_data(p.data)))
    return _svg(frame, title, body, css_class)
