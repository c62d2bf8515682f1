"""`pairwise train` (enqueue a run) and `pairwise worker train` (the trainer process)."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated, Any, Literal

import typer

from app.cli_common import engine, fail, settings

commands = typer.Typer()
worker_commands = typer.Typer()


@commands.command()
def train(
    project: Annotated[
        str | None, typer.Option(help="project id or name (default: the only/first project)")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="recipe name or YAML path (default: TRAINING_DEFAULT_RECIPE)")
    ] = None,
    kind: Annotated[Literal["full", "reward", "policy"], typer.Option()] = "full",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="override a config field, e.g. --set policy.lr=1e-5 (repeatable)",
        ),
    ] = None,
    include_simulated: Annotated[
        bool, typer.Option("--include-simulated", help="train on simulated labels")
    ] = False,
) -> None:
    """enqueue a training run"""
    from app.db import make_sessionmaker, transaction
    from app.training.service import TrainingInputError, parse_overrides, request_run

    config = settings()
    made = engine(config)
    try:
        overrides = parse_overrides("\n".join(set_ or []))
        with transaction(make_sessionmaker(made)) as db:
            run = request_run(
                db,
                config,
                project,
                None,
                kind=kind,
                recipe=recipe,
                overrides=overrides,
                include_simulated=include_simulated,
                trigger="cli",
            )
    except TrainingInputError as exc:
        fail(str(exc))
    typer.echo(
        f"queued run #{run.id} ({run.kind}, recipe {run.recipe}) for project {run.project_id}"
    )


@worker_commands.command("train")
def worker_train(
    once: Annotated[bool, typer.Option("--once", help="process one run (if any) and exit")] = False,
) -> None:
    """claim and run training runs"""
    config = settings()  # a bad setting ends here, before torch is imported
    from app.db import make_sessionmaker
    from trainer.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    made = engine(config)
    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    worker = Worker(config, make_sessionmaker(made), show_progress=sys.stderr.isatty())

    def on_term(_signum: int, _frame: Any) -> None:
        # Stop at the next step and give the run back to the queue for another trainer.
        worker.terminate()

    signal.signal(signal.SIGTERM, on_term)
    typer.echo(f"trainer {worker.owner} waiting for runs")
    try:
        worker.serve(once=once)
    except KeyboardInterrupt:
        worker.terminate()
