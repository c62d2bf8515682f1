"""Shared pieces for the TRL stages: progress/cancel callback, threads, safe loading."""

from __future__ import annotations

import time
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from trainer import ranks
from trainer.types import Cancelled, Progress, ShouldStop

# Keys of TRL/transformers logs worth forwarding as per-step metrics.
METRIC_KEYS = (
    "loss",
    "reward",
    "reward_std",
    "kl",
    "learning_rate",
    "grad_norm",
    "entropy",
    "completions/mean_length",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "accuracy",
    "margin",
)


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def quiet(trainer: Any) -> Any:
    """Drop the console printers: progress goes through the stage callback instead."""
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


class StageCallback(TrainerCallback):
    """Forwards progress and metrics after each step and stops the run when asked.

    Raising `Cancelled` from inside the loop aborts `trainer.train()` before anything is saved.
    Under `accelerate launch` the ranks agree after each step whether any of them was asked
    to stop (trainer/ranks.py), so all leave the loop at the same step; `rank_report` is what
    this rank did (its steps and the batches of its share of the data).
    """

    def __init__(self, label: str, progress: Progress, should_stop: ShouldStop) -> None:
        self.label = label
        self.progress = progress
        self.should_stop = should_stop
        self.curves: dict[str, list[tuple[int, float]]] = {}
        self.started = time.monotonic()
        self.steps = 0  # optimizer steps this process took in this attempt
        self.batches: int | None = None  # batches per epoch of this process's data loader

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        loader = kwargs.get("train_dataloader")
        try:
            self.batches = len(loader) if loader is not None else None
        except TypeError:  # an iterable loader without a length
            self.batches = None

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # With several ranks only the agreed check after each step may stop one of them.
        if not ranks.many() and self.should_stop():
            raise Cancelled(f"{self.label} cancelled at step {state.global_step}")

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        logs = logs or {}
        metrics = {}
        for key, value in logs.items():
            if isinstance(value, int | float) and (
                key in METRIC_KEYS or key.startswith("rewards/")
            ):
                metrics[key] = float(value)
                self.curves.setdefault(key, []).append((state.global_step, float(value)))
        if not metrics:  # the end-of-training summary carries only runtimes
            return
        total = max(state.max_steps, 1)
        fraction = min(state.global_step / total, 1.0)
        self.progress(
            fraction, f"{self.label} step {state.global_step}/{total}", metrics, state.global_step
        )

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.steps += 1
        if ranks.any_rank(self.should_stop()):
            raise Cancelled(f"{self.label} cancelled after step {state.global_step}")

    def rank_report(self) -> dict[str, Any]:
        return {"rank": ranks.rank(), "steps": self.steps, "batches_per_epoch": self.batches}


def per_rank(callback: StageCallback) -> dict[str, Any]:
    """`{"per_rank": [each rank's report]}` under a launcher (every rank must call it at the
    same point: it gathers), else nothing."""
    return {"per_rank": ranks.gather(callback.rank_report())} if ranks.many() else {}
