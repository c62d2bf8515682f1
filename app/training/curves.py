"""Which of a run's curves are charted, under which names (drawn by `app.charts`)."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from app.charts import Series, line_chart
from app.models import TrainingRun

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
STAGE_NAMES = {
    "sft": "supervised fine-tuning",
    "reward": "reward model",
    "policy": "policy",
    "evaluate": "evaluation",
}


def run_charts(curves: dict[str, list[list[float]]]) -> list[Markup]:
    """Charts for the curves that matter (loss, reward, KL…), stage by stage."""
    charts = []
    for key in sorted(curves, key=_order):
        if key.partition(":")[2] in PREFERRED:
            title = curve_title(key)
            charts.append(line_chart([_series(title, curves[key])], title=title, x_label="step"))
    return charts


OVERLAID = ("loss", "reward", "rewards/reward_model/mean", "kl")


def overlay_charts(runs: Sequence[TrainingRun]) -> list[Markup]:
    """One chart per loss or reward curve that any of `runs` has, one series per run."""
    keys = {key for run in runs for key in (run.metrics or {}).get("curves") or {}}
    charts = []
    for key in sorted((k for k in keys if k.partition(":")[2] in OVERLAID), key=_order):
        series = [
            _series(f"#{run.id}", ((run.metrics or {}).get("curves") or {}).get(key) or [])
            for run in runs
        ]
        charts.append(
            line_chart(
                series, title=curve_title(key), x_label="step", size=(480, 200), css_class="overlay"
            )
        )
    return charts


def curve_title(key: str) -> str:
    """'reward:loss' → 'reward model · loss'."""
    stage, _, metric = key.partition(":")
    return f"{STAGE_NAMES.get(stage, stage)} · {METRIC_NAMES.get(metric, metric)}"


def _series(name: str, points: list[list[float]]) -> Series:
    return Series(name, [(float(p[0]), float(p[1])) for p in points if len(p) == 2])


def _order(key: str) -> tuple[int, int]:
    stage, _, metric = key.partition(":")
    stage_rank = list(STAGE_NAMES).index(stage) if stage in STAGE_NAMES else 9
    metric_rank = PREFERRED.index(metric) if metric in PREFERRED else 99
    return stage_rank, metric_rank
