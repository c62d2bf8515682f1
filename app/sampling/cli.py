"""`pairwise worker sample`: a sampler process (stops cleanly on SIGTERM or SIGINT)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from app.cli import command, worker_subparsers
from app.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = worker_subparsers(sub).add_parser(
        "sample", help="keep the pair buffer filled from the active policy versions"
    )
    p.add_argument("--project", action="append", help="project name (repeatable; default all)")
    p.add_argument("--once", action="store_true", help="fill the buffers once, then exit")
    p.set_defaults(key="worker.sample")


@command("worker.sample")
def worker_sample(args: argparse.Namespace, settings: Settings) -> int:
    from app.cli import _engine
    from app.db import make_sessionmaker
    from app.sampling.worker import Sampler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    engine = _engine(settings)
    sampler = Sampler(make_sessionmaker(engine), settings, projects=args.project)

    def stop(signum: int, _frame: FrameType | None) -> None:
        print(f"received {signal.Signals(signum).name}; stopping", file=sys.stderr, flush=True)
        sampler.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sampler {sampler.worker_id} started", flush=True)
    status = sampler.run(once=args.once)
    engine.dispose()
    print(f"sampler stopped; {sampler.pairs_made} pairs made", flush=True)
    return status
