"""The quality page's charts, drawn by the one chart module (`app.charts`) from the kept
quality figures (`app.quality.figures`): nothing here reads the database."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from app.annotators.figures import AnnotatorStats
from app.charts import Bar, Cell, Point, heatmap, point_chart, scatter_chart
from app.models import User
from app.quality.agreement import Agreement
from app.quality.cohorts import Dimension

MAX_HEATMAP_ANNOTATORS = 30  # beyond this a grid is unreadable; the table lists the rest


def cohort_chart(dim: Dimension) -> Markup:
    """Each cohort's share of longer picks with its interval, against 50 %."""
    points = [
        Bar(
            c.value,
            c.longer.estimate if c.longer.estimate is not None else 0.0,
            c.longer.low,
            c.longer.high,
            title=f"{c.value}: {c.longer.hits:g} of {c.longer.n} picks of the longer response",
            data={"cohort": c.value},
        )
        for c in dim.cohorts
    ]
    return point_chart(
        points, title=f"Longer response preferred, by {dim.name}", group_class="cohort-point"
    )


def kappa_heatmap(agreement: Agreement) -> Markup:
    """Cohen's kappa of every two annotators who shared enough pairs, one cell per pair (the
    lower triangle), annotators by name; the most-shared annotators when there are many."""
    people: list[str] = []
    for k in agreement.kappas:  # most shared pairs first
        for name in (k.user_a, k.user_b):
            if name not in people and len(people) < MAX_HEATMAP_ANNOTATORS:
                people.append(name)
    names = sorted(people)
    order = {n: i for i, n in enumerate(names)}
    cells = []
    for k in agreement.kappas:
        if k.user_a not in order or k.user_b not in order:
            continue
        row, col = sorted((k.user_a, k.user_b), key=order.__getitem__, reverse=True)
        value = "undefined" if k.kappa is None else f"{k.kappa:.3f}"
        cells.append(
            Cell(
                row,
                col,
                k.kappa,
                title=f"{k.user_a} · {k.user_b}: κ = {value} on {k.shared} shared pairs",
                data={"user-a": k.user_a, "user-b": k.user_b, "kappa": value},
            )
        )
    return heatmap(cells, title="Cohen's κ between annotators", names=names, value_range=(0.0, 1.0))


def accuracy_scatter(
    figures: Sequence[tuple[User, AnnotatorStats, bool]], project_id: int
) -> tuple[Markup, int]:
    """Each annotator's gold accuracy against their agreement with the others, a point
    linking to their page; with how many annotators lack one of the two figures."""
    points = []
    for user, s, _ in figures:
        if s.gold_accuracy is None or s.agreement is None:
            continue
        points.append(
            Point(
                s.agreement,
                s.gold_accuracy,
                title=(
                    f"{user.username}: gold accuracy {s.gold_accuracy:.0%} "
                    f"({s.gold_correct} of {s.gold_total}), agreement {s.agreement:.0%} "
                    f"({s.agreements} of {s.overlap_pairs})"
                ),
                href=f"/admin/annotators/{user.id}?project={project_id}",
                data={"user": str(user.id)},
            )
        )
    chart = scatter_chart(
        points,
        title="Gold accuracy against agreement",
        x_label="agreement with the others",
        y_label="gold accuracy",
    )
    return chart, len(figures) - len(points)
