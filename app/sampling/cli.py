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


@worker_commands.command()
def prepare() -> None:
    """convert version 0 of every project into the model store (compose's one-shot init)"""
    from sqlalchemy import select

    from app.db import make_sessionmaker, transaction
    from app.domain import versions
    from app.domain.store import ModelStore
    from app.models import Project
    from app.projects.service import ensure_default_project

    config = settings()
    made = engine(config)
    factory = make_sessionmaker(made)
    store = ModelStore(config.resolved_model_dir)
    with transaction(factory) as db:
        ensure_default_project(db, config.policy_base_model)
        projects = list(db.scalars(select(Project).order_by(Project.id)))
    for project in projects:
        db = factory()  # the conversion runs before ensure_version_zero opens a transaction
        try:
            version = versions.ensure_version_zero(db, config, project, store)
            uri = version.checkpoint_uri
            db.commit()
        finally:
            db.close()
        typer.echo(f"project {project.name}: version 0 ready at {uri}")
    made.dispose()
