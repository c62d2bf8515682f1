"""The `pairwise` command line: the process entry points here, each package's commands
assembled from its own `cli.py`."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

from app.auth import cli as auth_cli
from app.cli_common import engine, fail, settings
from app.export import cli as export_cli
from app.imports import cli as imports_cli
from app.prompts import cli as prompts_cli
from app.sampling import cli as sampling_cli
from app.simulate import cli as simulate_cli
from app.training import cli as training_cli

app = typer.Typer(
    name="pairwise",
    help="Close the RLHF loop: sample pairs, collect human preferences, retrain.",
    no_args_is_help=True,
    add_completion=False,
)
db = typer.Typer(help="database schema", no_args_is_help=True)
worker = typer.Typer(help="background workers", no_args_is_help=True)

Host = Annotated[str | None, typer.Option(help="address to bind (default: HOST)")]
Port = Annotated[int | None, typer.Option(help="port to bind (default: PORT)")]


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"pairwise {version('pairwise')}")
        except PackageNotFoundError:
            fail("the pairwise package is not installed, so it has no version", 1)
        raise typer.Exit()


@app.callback()
def root(
    _show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Close the RLHF loop: sample pairs, collect human preferences, retrain."""


Workers = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, max=64, help="processes to run (default WEB_WORKERS, see its help)"
    ),
]


def _fast_io() -> tuple[str, str]:
    """uvloop's event loop and httptools' HTTP parser (both C) where installed, as uvicorn's
    `auto` would pick; stated here so a deployment missing them runs, and says which it got."""
    from importlib.util import find_spec

    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return loop, "httptools" if find_spec("httptools") else "h11"


@app.command()
def serve(host: Host = None, port: Port = None, workers: Workers = None) -> None:
    """run the web server"""
    import uvicorn

    from app.observability.logs import configure_logging

    config = settings()
    configure_logging(config)  # for what this process says before the workers start
    host = host or config.host
    port = port or config.port
    processes = workers or config.resolved_web_workers()
    if processes > 1 and config.sampler_enabled:
        fail(
            f"--workers {processes} would start the embedded sampler {processes} times; set "
            "SAMPLER_ENABLED=false and run `pairwise worker sample` beside the server"
        )
    engine(config).dispose()  # one clear line now if the database cannot be reached
    loop, http = _fast_io()
    typer.echo(
        f"Pairwise is running at http://{host}:{port}/ ({processes} process(es), "
        f"{loop} event loop, {http} HTTP parser)"
    )
    # One path for one process or many: each builds its app from the environment. Our
    # middleware writes the access log (with request ids); uvicorn keeps its own loggers at
    # warning and, with log_config=None, leaves the handler set-up to the app.
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        workers=processes,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the app believes forwarded headers from TRUSTED_PROXIES only
        timeout_keep_alive=config.keep_alive_seconds,
        timeout_graceful_shutdown=config.shutdown_grace_seconds,
        loop=loop,
        http=http,
    )


@app.command()
def demo(host: Host = None, port: Port = None) -> None:
    """migrate, seed an admin and run everything on one machine"""
    from app.demo import run_demo

    raise typer.Exit(run_demo(settings(), host=host, port=port))


@db.command()
def upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="target revision")] = "head",
) -> None:
    """migrate to the newest schema (or up to REVISION)"""
    from alembic.util import CommandError

    from app.migrate import upgrade as migrate_up

    made = engine(settings())
    try:
        migrate_up(made, revision)
    except CommandError as exc:
        fail(str(exc))
    typer.echo(f"database at {made.url.render_as_string(hide_password=True)} is at {revision}")


# `-1` (one step back) must reach REVISION instead of reading as an unknown option.
@db.command(context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[
        str | None,
        typer.Argument(
            metavar="REVISION",
            help="target: a revision id, -1 for one step back, or base for an empty database",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """migrate down to REVISION, dropping what later migrations created (asks first)"""
    if revision is None:
        fail(
            "db downgrade needs the revision to go down to "
            "(a revision id, -1 for one step back, or base); nothing was changed"
        )
    if revision.startswith("--"):
        fail(f"no such option: {revision}; nothing was changed")
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    from app.migrate import downgrade as migrate_down

    made = engine(settings())
    with made.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    where = made.url.render_as_string(hide_password=True)
    if not yes:
        question = (
            f"Downgrade the database at {where} from {current or 'an empty schema'} to "
            f"{revision}? Tables and columns of the undone migrations are dropped with their data."
        )
        try:
            confirmed = typer.confirm(question, default=False)
        except typer.Abort:  # no answer (stdin closed): the same as no
            confirmed = False
        if not confirmed:
            fail("downgrade not confirmed (answer y, or pass --yes); nothing was changed", 1)
    try:
        migrate_down(made, revision)
    except CommandError as exc:
        fail(f"{exc}; nothing was changed")
    typer.echo(f"database at {where} is at {revision}")


app.add_typer(db, name="db")
app.add_typer(auth_cli.users, name="users", help="accounts")
app.add_typer(prompts_cli.prompts, name="prompts", help="prompts")
app.add_typer(imports_cli.imports, name="imports", help="imported preference data")
app.add_typer(export_cli.commands)
app.add_typer(training_cli.commands)
app.add_typer(simulate_cli.commands)
worker.add_typer(sampling_cli.worker_commands)
worker.add_typer(training_cli.worker_commands)
app.add_typer(worker, name="worker")


def command_at(words: Sequence[str]) -> tuple[TyperCommand | None, list[str]]:
    """The command that `pairwise WORDS` runs and the words left for it (None: no command)."""
    command = typer.main.get_command(app)
    rest = list(words)
    while isinstance(command, TyperGroup):
        if not rest or rest[0] not in command.commands:
            return None, rest
        command = command.commands[rest.pop(0)]
    return (command if isinstance(command, TyperCommand) else None), rest


def main(argv: Sequence[str] | None = None) -> int:
    """Run `pairwise ARGV` and return its exit status (2 for a bad setting or usage)."""
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="pairwise", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except Exception as exc:
        from app.settings import SettingsError

        if not isinstance(exc, SettingsError):
            raise
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
