"""What the run page shows beyond the stored figures: its poll rate and evaluation examples."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.domain.messages import as_messages
from app.domain.store import ModelStore
from app.models import TrainingRun
from app.settings import Settings

QUEUED_POLL_SECONDS = 5
DEFAULT_POLL_SECONDS = 2
MAX_POLL_SECONDS = 10


def poll_seconds(run: TrainingRun) -> int:
    """Poll about as often as the trainer writes progress: once per logging step."""
    if run.status == "queued":
        return QUEUED_POLL_SECONDS
    every = (run.metrics or {}).get("report_seconds")
    if not isinstance(every, int | float) or not math.isfinite(every) or every <= 0:
        return DEFAULT_POLL_SECONDS
    return max(1, min(MAX_POLL_SECONDS, math.ceil(every)))


@dataclass(frozen=True)
class Example:
    turns: list[dict[str, str]]  # the prompt as chat turns
    new: str  # the candidate's answer
    ref: str  # the reference policy's answer


def evaluation_examples(evaluation: dict[str, Any]) -> list[Example]:
    """The evaluation's example answers, prompt as turns (stored as text or as turns)."""
    out = []
    for raw in evaluation.get("examples") or []:
        if not isinstance(raw, dict):
            continue
        prompt = raw.get("prompt")
        if isinstance(prompt, list):
            turns = [
                {"role": str(t.get("role", "")), "content": str(t.get("content", ""))}
                for t in prompt
                if isinstance(t, dict)
            ]
        else:
            turns = as_messages(str(prompt or ""))
        out.append(Example(turns, str(raw.get("new", "")), str(raw.get("ref", ""))))
    return out


@dataclass(frozen=True)
class Board:
    """Where one experiment tracker holds the run's curves."""

    tracker: str
    name: str  # the run's name (or folder) there
    folder: str | None = None  # TensorBoard: the run's logs in the model store
    url: str | None = None  # a TensorBoard serving the store, when TENSORBOARD_URL says where


def tracking_boards(run: TrainingRun, settings: Settings) -> list[Board]:
    """The boards the run's recipe reports to (`report_to`), as the run page names them."""
    resolved = (run.config or {}).get("resolved") or {}
    trackers = resolved.get("report_to") or []
    store = ModelStore(settings.resolved_model_dir)
    name = store.tracker_run_name(run.project_id, run.id)
    boards = []
    for tracker in trackers:
        if tracker == "tensorboard":
            logs = store.run_logs_uri(run.project_id, run.id)
            url = settings.tensorboard_url.rstrip("/") or None
            folder = str(store.path(logs))
            boards.append(Board(tracker, logs.removeprefix("projects/"), folder, url))
        else:
            boards.append(Board(str(tracker), name))
    return boards
