"""`pairwise simulate`: simulated evaluators labelling through the HTTP API with a hidden rule."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_common import engine, fail, settings
from app.simulate.rules import RULE_HELP

commands = typer.Typer()


# Click passes the defaults through these too, as numbers; the command line gives strings.
def _share(value: str | float) -> float:
    try:
        share = float(value)
    except ValueError:
        raise typer.BadParameter(f"not a number: {value!r}") from None
    if not 0.0 <= share <= 1.0:
        raise typer.BadParameter(f"must be between 0 and 1, got {value}")
    return share


def _positive_int(value: str | int) -> int:
    if not str(value).isdigit() or int(value) < 1:
        raise typer.BadParameter(f"must be a whole number ≥ 1, got {value!r}")
    return int(value)


def _seconds(value: str | float) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise typer.BadParameter(f"not a number of seconds: {value!r}") from None
    if seconds < 0:
        raise typer.BadParameter(f"must not be negative, got {value}")
    return seconds


@commands.command(
    epilog="Creates (or reuses) accounts marked simulated, then labels concurrently "
    "through the running server's API, exactly as the labelling page does."
)
def simulate(
    rule: Annotated[str, typer.Option(help=RULE_HELP, show_default=False)],
    evaluators: Annotated[int, typer.Option(parser=_positive_int, help="how many")] = 4,
    noise: Annotated[
        float, typer.Option(parser=_share, help="share of answers flipped (0–1)")
    ] = 0.0,
    think_time: Annotated[float, typer.Option(parser=_seconds, help="mean seconds per pair")] = 0.0,
    labels: Annotated[
        int | None, typer.Option(parser=_positive_int, help="stop after this many labels in total")
    ] = None,
    skip_rate: Annotated[float, typer.Option(parser=_share, help="share of pairs skipped")] = 0.02,
    idle_timeout: Annotated[
        float, typer.Option(parser=_seconds, help="stop after the queue is empty this long")
    ] = 10.0,
    url: Annotated[
        str | None, typer.Option(help="server to label on (default http://HOST:PORT from settings)")
    ] = None,
    project: Annotated[str, typer.Option(help="project name")] = "default",
    prefix: Annotated[
        str, typer.Option(help="account names are PREFIX-001, PREFIX-002, …")
    ] = "sim",
    seed: Annotated[int, typer.Option(help="seed of the evaluators' randomness")] = 0,
) -> None:
    """simulated evaluators label through the HTTP API with a hidden rule"""
    from sqlalchemy import select

    from app.auth.service import AccountError
    from app.db import make_sessionmaker, transaction
    from app.models import Project
    from app.projects.service import find_visible_project
    from app.simulate.accounts import simulated_evaluators
    from app.simulate.rules import RuleError, parse_rule
    from app.simulate.runner import SimulationConfig, run_simulation

    config = settings()
    try:  # before anything is stored: a bad rule changes nothing
        hidden = parse_rule(rule, config.resolved_model_dir)
    except RuleError as exc:
        fail(str(exc))
    factory = make_sessionmaker(engine(config))
    try:
        with transaction(factory) as db:
            chosen = find_visible_project(db, None, project)
            if chosen is None:
                names = ", ".join(db.scalars(select(Project.name).order_by(Project.name)))
                raise AccountError(f"no project named {project!r} (projects: {names or 'none'})")
            accounts = simulated_evaluators(db, config, chosen, evaluators, prefix)
            project_id = chosen.id
    except AccountError as exc:
        fail(str(exc))
    run = SimulationConfig(
        url=url or f"http://{config.host}:{config.port}",
        project_id=project_id,
        labels=labels,
        noise=noise,
        think_time=think_time,
        skip_rate=skip_rate,
        idle_timeout=idle_timeout,
        seed=seed,
    )
    typer.echo(
        f"{len(accounts)} simulated evaluators ({accounts[0][0]} …) labelling {project!r} "
        f"at {run.url} with rule {hidden.name!r}, noise {noise}"
    )
    summary = run_simulation([token for _, token in accounts], hidden, run)
    typer.echo(summary.as_text())
    if summary.labels == 0 and summary.errors:
        raise typer.Exit(1)
