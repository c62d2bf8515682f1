"""`pairwise prompts import FILE [--project NAME] [--skip-bad]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import counted, engine, fail, progress_bar, settings

prompts = typer.Typer(no_args_is_help=True)


@prompts.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="the file or dataset folder")],
    project: Annotated[
        str | None, typer.Option(help="project name or id (default: the only project)")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="import the good records anyway")
    ] = False,
) -> None:
    """import prompts from JSONL, CSV, Parquet, Arrow or a saved dataset folder"""
    from app.db import make_sessionmaker, transaction
    from app.projects.service import command_line_project
    from app.prompts.importer import ImportFileError, collect_records, read_path_rows, row_total
    from app.prompts.service import import_prompts

    config = settings()
    if not file.exists():
        fail(f"{file} does not exist")
    try:
        unit, rows = read_path_rows(file, required=("prompt",))
        with progress_bar(row_total(file), "reading") as bar:
            parsed = collect_records(unit, counted(rows, bar), config.prompt_max_chars)
    except ImportFileError as exc:
        fail(f"{file}: {exc}")
    factory = make_sessionmaker(engine(config))
    try:
        with transaction(factory) as db:
            target = command_line_project(db, project)
            summary = import_prompts(db, target, parsed, skip_bad=skip_bad, actor_id=None)
    except LookupError as exc:
        fail(str(exc))
    for problem in summary.rejected:
        typer.echo(f"{summary.unit} {problem.line}: {problem.reason}", err=True)
    for dup in summary.duplicates:
        typer.echo(f"{summary.unit} {dup.line}: skipped, {dup.reason}")
    if not summary.imported:
        fail(
            f"nothing imported: {len(summary.rejected)} bad record(s); fix them or pass --skip-bad",
            1,
        )
    typer.echo(
        f"added {summary.added}, skipped {summary.skipped} duplicate(s), "
        f"rejected {len(summary.rejected)} into project {target.name!r}; "
        f"{summary.held_out} of the added held out for evaluation"
    )
