"""`pairwise worker sample`: a sampler process (stops cleanly on SIGTERM or SIGINT)."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from app.cli_common import engine, settings

worker_commands = typer.Typer()


@worker_commands.command()
def sample(
    project: Annotated[
        list[str] | None, typer.Option(help="project name (repeatable; default all)")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="fill the buffers once, then exit")] = False,
) -> None:
    """keep the pair buffer filled from the active policy versions"""
    from app.db import make_sessionmaker
    from app.sampling.worker import Sampler

    config = settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    made = engine(config)
    sampler = Sampler(make_sessionmaker(made), config, projects=project or None)

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"received {signal.Signals(signum).name}; stopping", file=sys.stderr, flush=True)
        sampler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    typer.echo(f"sampler {sampler.worker_id} started")
    status = sampler.run(once=once)
    made.dispose()
    typer.echo(f"sampler stopped; {sampler.pairs_made} pairs made")
    raise typer.Exit(status)
