"""A run's work folder in the model store: checkpoints a retry resumes from, tracker logs.

`projects/<p>/runs/run<id>/` holds, per training stage, the TRL checkpoints written every
`save_steps` steps (the newest `save_total_limit` kept), the reward model once its stage has
finished (a retry takes it as it is and does not train it again), and `logs/<stage>/`, where
TensorBoard writes when the recipe's `report_to` names it. The same run id gives the same
folder, so a run claimed again after its trainer was killed finds its checkpoints there. The
checkpoints go when the run ends (registered, failed or cancelled); the logs stay beside
the run's versions.

A checkpoint's optimiser, scheduler and RNG state are torch files that this run wrote into
its own folder; transformers reads them back with `weights_only=True`. Weights are
safetensors, as everywhere in the store.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from trainer import ranks
from trainer.types import Cancelled, Progress, ShouldStop

TRAINER_STATE = "trainer_state.json"  # written last into a checkpoint: its presence = complete
LOGS = "logs"  # the last part of ModelStore.run_logs_uri


@dataclass(frozen=True)
class Workspace:
    root: Path
    save_total_limit: int = 1
    report_to: tuple[str, ...] = ()
    name: str = "pairwise"  # the run's name in trackers (ModelStore.tracker_run_name)

    def stage_dir(self, stage: str) -> Path:
        return self.root / stage

    def logs_dir(self, stage: str) -> Path:
        return self.root / LOGS / stage

    def training_args(self, stage: str, save_steps: int | None) -> dict[str, Any]:
        """The TrainingArguments that put a stage's checkpoints and logs here."""
        folder = self.stage_dir(stage)
        folder.mkdir(parents=True, exist_ok=True)
        return {
            "output_dir": str(folder),
            "save_strategy": "steps" if save_steps else "no",
            "save_steps": save_steps or 500,
            "save_total_limit": self.save_total_limit,
            "report_to": list(self.report_to) or "none",
            "run_name": f"{self.name}-{stage}",
        }

    def resume_point(self, stage: str) -> tuple[Path, int] | None:
        """The newest complete checkpoint of the stage and its step (a killed attempt's)."""
        folder = self.stage_dir(stage)
        found: list[tuple[int, Path]] = []
        for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
            number = path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
            if number.isdigit() and (path / TRAINER_STATE).is_file():
                found.append((int(number), path))
        if not found:
            return None
        step, newest = max(found)
        return newest, step

    def attach_trackers(self, trainer: Any, stage: str) -> None:
        """Point TensorBoard (when asked for) at `logs/<stage>` instead of the output folder."""
        from transformers.integrations import TensorBoardCallback

        for callback in trainer.callback_handler.callbacks:
            if isinstance(callback, TensorBoardCallback):
                callback.logging_dir = str(self.logs_dir(stage))

    def clear_checkpoints(self) -> None:
        """Everything but the tracker logs (the run has ended; nothing will resume)."""
        if not self.root.is_dir():
            return
        for child in self.root.iterdir():
            if child.name != LOGS:
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink()


def trackers_missing(report_to: Sequence[str]) -> list[str]:
    """The trackers named in `report_to` whose package is not installed here."""
    from transformers.integrations import get_available_reporting_integrations

    available = set(get_available_reporting_integrations())
    return [name for name in report_to if name not in available]


@contextmanager
def stage_output(
    workspace: Workspace | None, stage: str, save_steps: int | None
) -> Iterator[dict[str, Any]]:
    """Where a stage's trainer writes: the run's work folder (checkpoints every `save_steps`,
    tracker logs) or, without one, a scratch folder that goes afterwards."""
    if workspace is not None:
        yield workspace.training_args(stage, save_steps)
        return
    with tempfile.TemporaryDirectory(prefix=f"pairwise-{stage}-") as scratch:
        yield {"output_dir": scratch, "save_strategy": "no", "report_to": "none"}


def run_stage(
    trainer: Any,
    should_stop: ShouldStop,
    label: str,
    progress: Progress,
    workspace: Workspace | None = None,
    stage: str = "policy",
) -> tuple[float, int | None]:
    """Train, from the newest checkpoint a killed attempt left in the work folder if any;
    returns the seconds it took and the step it resumed from (None: from the start)."""
    resume = workspace.resume_point(stage) if workspace is not None else None
    if workspace is not None:
        workspace.attach_trackers(trainer, stage)
    if resume is not None:
        fraction = resume[1] / max(trainer.args.max_steps, 1)
        progress(fraction, f"{label}: resuming from the checkpoint at step {resume[1]}", {})
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume[0]) if resume else None)
    if ranks.any_rank(should_stop()):  # every rank of a launch leaves here, or none
        raise Cancelled(f"{label} cancelled")
    return time.monotonic() - started, resume[1] if resume else None


__all__ = ["Workspace", "run_stage", "stage_output", "trackers_missing"]
