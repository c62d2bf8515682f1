"""The one chart module: bars scale to a round maximum, lines and bands, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from app.charts import Bar, Series, bar_chart, line_chart, point_chart
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
