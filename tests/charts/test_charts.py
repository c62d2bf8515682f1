"""The one chart module: bars scale to a round maximum, lines and bands, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from app.charts import (
    Bar,
    Cell,
    Point,
    Series,
    bar_chart,
    heatmap,
    line_chart,
    point_chart,
    scatter_chart,
)
from app.dashboard.routes import day_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    # Inline SVG in HTML has no namespace; add it so the markup parses as an SVG document.
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def test_day_bars_scale_to_the_busiest_day() -> None:
    day = date(2026, 11, 29)
    svg = parse(day_chart([(day - timedelta(days=2), 4), (day - timedelta(days=1), 0), (day, 8)]))
    first, empty, last = (g.find(f"{SVG}rect") for g in svg.iter(f"{SVG}g"))
    height = [float(r.get("height")) for r in (first, empty, last)]  # type: ignore[union-attr]
    assert height[1] == 0 and height[2] == pytest.approx(2 * height[0], abs=0.2)
    axis = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "axis"][0]
    top, bottom = float(axis.get("y1")), float(axis.get("y2"))  # type: ignore[arg-type]
    # The axis runs to 10: the busiest day (8) fills 80 % of the plot, standing on the axis.
    assert height[2] == pytest.approx(0.8 * (bottom - top), abs=0.1)
    assert float(last.get("y")) + height[2] == pytest.approx(bottom, abs=0.1)  # type: ignore[union-attr,arg-type]
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "5", "10"]
    groups = list(svg.iter(f"{SVG}g"))
    assert groups[2].get("data-count") == "8" and groups[2].get("data-day") == day.isoformat()
    assert groups[2].find(f"{SVG}title").text == f"{day.isoformat()}: 8 labels"  # type: ignore[union-attr]


def test_line_chart_draws_one_series_each_with_its_band_and_a_legend() -> None:
    svg = parse(
        line_chart(
            [
                Series("run 1", [(0, 1.0), (1, 0.5)], band=[(0, 0.8, 1.2), (1, 0.3, 0.7)]),
                Series("run 2", [(0, 0.9), (2, 0.2)]),
                Series("empty", []),
            ],
            title="loss",
        )
    )
    series = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "series"]
    assert [g.get("data-series") for g in series] == ["run 1", "run 2"]
    assert len(series[0].findall(f"{SVG}polygon")) == 1 and not series[1].findall(f"{SVG}polygon")
    legend = [t.text for t in svg.iter(f"{SVG}text") if "legend" in (t.get("class") or "")]
    assert legend == ["run 1", "run 2"]
    # Both lines share one x scale: run 2 reaches x=2, so run 1's last point (x=1) sits mid-way.
    last_1 = series[0].find(f"{SVG}polyline").get("points").split()[-1]  # type: ignore[union-attr]
    last_2 = series[1].find(f"{SVG}polyline").get("points").split()[-1]  # type: ignore[union-attr]
    left = float(series[1].find(f"{SVG}polyline").get("points").split()[0].split(",")[0])  # type: ignore[union-attr]
    assert float(last_1.split(",")[0]) - left == pytest.approx(
        (float(last_2.split(",")[0]) - left) / 2, abs=0.2
    )


def test_empty_line_chart_says_so() -> None:
    assert "no points yet" in line_chart([Series("a", [])], title="loss")


def test_text_is_escaped_everywhere() -> None:
    evil = '<script>alert(1)</script>"'
    for markup in (
        line_chart([Series(evil, [(0, 1), (1, 2)]), Series("b", [(0, 1)])], title=evil),
        bar_chart([Bar(evil, 3, title=evil, data={"x": evil})], title=evil),
        point_chart([Bar(evil, 0.6, 0.5, 0.7, title=evil)], title=evil),
        heatmap([Cell(evil, evil, 0.5, title=evil, data={"x": evil})], title=evil),
        scatter_chart(
            [Point(0.5, 0.5, title=evil, href="/a?b=<c>", data={"x": evil})],
            title=evil,
            x_label=evil,
            y_label=evil,
        ),
        line_chart([], title=evil),
    ):
        assert "<script>" not in markup and 'alert(1)</script>"' not in markup
        assert "&lt;script&gt;" in markup


def test_point_chart_whiskers_span_the_interval() -> None:
    svg = parse(point_chart([Bar("v1", 0.7, 0.6, 0.8)], title="p"))
    half = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "half-line"][0]
    whisker = [line for line in svg.iter(f"{SVG}line") if line.get("class") == "whisker"][0]
    assert float(whisker.get("y1")) < float(half.get("y1"))  # type: ignore[arg-type]
    assert float(whisker.get("y2")) < float(whisker.get("y1"))  # type: ignore[arg-type]


def test_heatmap_draws_a_cell_per_value_coloured_by_step() -> None:
    svg = parse(
        heatmap(
            [Cell("b", "a", 0.9), Cell("c", "a", 0.1), Cell("c", "b", None)],
            title="κ",
            names=["a", "b", "c"],
            value_range=(0.0, 1.0),
        )
    )
    cells = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "heat-cell"]
    classes = [g.find(f"{SVG}rect").get("class") for g in cells]  # type: ignore[union-attr]
    assert classes == ["cell heat-4", "cell heat-0", "cell heat-none"]
    assert [g.find(f"{SVG}text").text for g in cells] == ["0.90", "0.10", "—"]  # type: ignore[union-attr]
    assert "no values yet" in heatmap([], title="κ")


def test_scatter_points_link_to_app_paths_only() -> None:
    svg = parse(
        scatter_chart(
            [Point(0.5, 1.0, title="x", href="/admin/annotators/3"), Point(1.0, 0.0)],
            title="s",
            x_label="agreement",
            y_label="gold",
        )
    )
    assert [a.get("href") for a in svg.iter(f"{SVG}a")] == ["/admin/annotators/3"]
    assert len(list(svg.iter(f"{SVG}circle"))) == 2
    with pytest.raises(ValueError):
        scatter_chart([Point(0, 0, href="javascript:alert(1)")], title="s", x_label="", y_label="")
    with pytest.raises(ValueError):
        scatter_chart([Point(0, 0, href="//evil.example")], title="s", x_label="", y_label="")
