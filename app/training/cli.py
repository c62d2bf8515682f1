"""`pairwise train` (enqueue a run) and `pairwise worker train` (the trainer process)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from app.cli import command, worker_subparsers
from app.db import check_connection, make_engine, make_sessionmaker, transaction
from app.settings import Settings
from app.training.service import TrainingInputError, parse_overrides, request_run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="enqueue a training run")
    p.add_argument("--project", help="project id or name (default: the only/first project)")
    p.add_argument("--recipe", help="recipe name or YAML path (default: TRAINING_DEFAULT_RECIPE)")
    p.add_argument("--kind", choices=["full", "reward", "policy"], default="full")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set policy.lr=1e-5 (repeatable)",
    )
    p.add_argument("--include-simulated", action="store_true", help="train on simulated labels")
    p.set_defaults(key="train")

    p = worker_subparsers(sub).add_parser("train", help="claim and run training runs")
    p.add_argument("--once", action="store_true", help="process one run (if any) and exit")
    p.set_defaults(key="worker.train")


@command("train")
def train(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(settings.resolved_database_url)
    check_connection(engine)
    try:
        overrides = parse_overrides("\n".join(args.set))
        with transaction(make_sessionmaker(engine)) as db:
            run = request_run(
                db,
                settings,
                args.project,
                None,
                kind=args.kind,
                recipe=args.recipe,
                overrides=overrides,
                include_simulated=args.include_simulated,
                trigger="cli",
            )
    except TrainingInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"queued run #{run.id} ({run.kind}, recipe {run.recipe}) for project {run.project_id}")
    return 0


@command("worker.train")
def worker_train(args: argparse.Namespace, settings: Settings) -> int:
    from trainer.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = make_engine(settings.resolved_database_url)
    check_connection(engine)
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    worker = Worker(settings, make_sessionmaker(engine), show_progress=sys.stderr.isatty())

    def on_term(_signum: int, _frame: Any) -> None:
        # Stop at the next step and give the run back to the queue for another trainer.
        worker.terminate()

    signal.signal(signal.SIGTERM, on_term)
    print(f"trainer {worker.owner} waiting for runs", flush=True)
    try:
        worker.serve(once=args.once)
    except KeyboardInterrupt:
        worker.terminate()
    return 0
