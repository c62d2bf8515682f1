"""`pairwise simulate`: simulated evaluators labelling through the HTTP API with a hidden rule."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from app.cli import command
from app.settings import Settings


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return share


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, got {value!r}")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return seconds


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from app.simulate.rules import RULE_HELP

    p = sub.add_parser(
        "simulate",
        help="simulated evaluators label through the HTTP API with a hidden rule",
        description="Creates (or reuses) accounts marked simulated, then labels concurrently "
        "through the running server's API, exactly as the labelling page does.",
    )
    p.add_argument("--evaluators", type=_positive_int, default=4, help="how many (default 4)")
    p.add_argument("--rule", required=True, help=RULE_HELP)
    p.add_argument("--noise", type=_share, default=0.0, help="share of answers flipped (0–1)")
    p.add_argument("--think-time", type=_seconds, default=0.0, help="mean seconds per pair")
    p.add_argument("--labels", type=_positive_int, help="stop after this many labels in total")
    p.add_argument("--skip-rate", type=_share, default=0.02, help="share of pairs skipped")
    p.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=10.0,
        help="stop after the queue is empty this long",
    )
    p.add_argument("--url", help="server to label on (default http://HOST:PORT from settings)")
    p.add_argument("--project", default="default", help="project name (default: default)")
    p.add_argument("--prefix", default="sim", help="account names are PREFIX-001, PREFIX-002, …")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluators' randomness")
    p.set_defaults(key="simulate")


@command("simulate")
def simulate(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth.service import AccountError
    from app.cli import _engine
    from app.db import make_sessionmaker, transaction
    from app.models import Project
    from app.simulate.accounts import simulated_evaluators
    from app.simulate.rules import RuleError, parse_rule
    from app.simulate.runner import SimulationConfig, run_simulation

    try:  # before anything is stored: a bad rule changes nothing
        rule = parse_rule(args.rule, settings.resolved_model_dir)
    except RuleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    factory = make_sessionmaker(_engine(settings))
    try:
        with transaction(factory) as db:
            project = db.scalar(select(Project).where(Project.name == args.project))
            if project is None:
                names = ", ".join(db.scalars(select(Project.name).order_by(Project.name)))
                raise AccountError(
                    f"no project named {args.project!r} (projects: {names or 'none'})"
                )
            accounts = simulated_evaluators(db, settings, project, args.evaluators, args.prefix)
            project_id = project.id
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = SimulationConfig(
        url=args.url or f"http://{settings.host}:{settings.port}",
        project_id=project_id,
        labels=args.labels,
        noise=args.noise,
        think_time=args.think_time,
        skip_rate=args.skip_rate,
        idle_timeout=args.idle_timeout,
        seed=args.seed,
    )
    print(
        f"{len(accounts)} simulated evaluators ({accounts[0][0]} …) labelling {args.project!r} "
        f"at {config.url} with rule {rule.name!r}, noise {args.noise}",
        flush=True,
    )
    summary = run_simulation([token for _, token in accounts], rule, config)
    print(summary.as_text())
    return 1 if summary.labels == 0 and summary.errors else 0
