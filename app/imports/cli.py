"""`pairwise imports add FILE [--source NAME]`, `pairwise imports list`, `… revert ID`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_common import counted, engine, fail, progress_bar, settings

imports = typer.Typer(no_args_is_help=True)

ProjectOpt = Annotated[str | None, typer.Option(help="project name (default: the only project)")]


@imports.command("add")
def add(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="the file or dataset folder")],
    source: Annotated[
        str, typer.Option(help="where the data comes from (default: the file name)")
    ] = "",
    project: ProjectOpt = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="import the good rows anyway")
    ] = False,
) -> None:
    """import preference data: TRL prompt/chosen/rejected or response_a/response_b/choice"""
    from app.db import make_sessionmaker, transaction
    from app.imports.records import collect
    from app.imports.service import import_preferences
    from app.projects.service import command_line_project
    from app.prompts.importer import ImportFileError, read_path_rows, row_total

    config = settings()
    if not file.exists():
        fail(f"{file} does not exist")
    total = row_total(file)
    try:
        unit, rows = read_path_rows(file)
        with progress_bar(total, "reading") as bar:
            parsed = collect(unit, counted(rows, bar), config.prompt_max_chars)
    except ImportFileError as exc:
        fail(f"{file}: {exc}")
    factory = make_sessionmaker(engine(config))
    try:
        with transaction(factory) as db, progress_bar(len(parsed.records), "storing") as bar:
            target = command_line_project(db, project)
            outcome = import_preferences(
                db,
                target,
                parsed,
                source=source,
                filename=file.name,
                skip_bad=skip_bad,
                actor_id=None,
                progress=bar.update,
            )
            batch_id = outcome.batch.id if outcome.batch else None
    except LookupError as exc:
        fail(str(exc))
    for problem in outcome.rejected:
        typer.echo(f"{outcome.unit} {problem.line}: {problem.reason}", err=True)
    if not outcome.imported:
        bad = len(outcome.rejected)
        fail(f"nothing imported: {bad} bad row(s); fix them or pass --skip-bad", 1)
    typer.echo(
        f"import #{batch_id}: stored {outcome.stored} row(s), rejected {len(outcome.rejected)}, "
        f"{outcome.prompts_added} new prompt(s) into project {target.name!r}"
    )


@imports.command("list")
def list_batches(project: ProjectOpt = None) -> None:
    """the project's import batches, newest first"""
    from app.db import make_sessionmaker, transaction
    from app.imports.service import list_imports
    from app.projects.service import command_line_project

    factory = make_sessionmaker(engine(settings()))
    try:
        with transaction(factory) as db:
            for b in list_imports(db, command_line_project(db, project).id):
                typer.echo(f"#{b.id}\t{b.status}\t{b.rows} row(s)\t{b.source}\t{b.filename}")
    except LookupError as exc:
        fail(str(exc))


@imports.command("revert")
def revert(batch_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """take an import batch back out of training and the export"""
    from app.db import make_sessionmaker, transaction
    from app.imports.service import ImportNotRevertable, revert_import
    from app.models import PreferenceImport

    factory = make_sessionmaker(engine(settings()))
    with transaction(factory) as db:
        batch = db.get(PreferenceImport, batch_id)
        if batch is None:
            fail(f"no import #{batch_id}")
        try:
            removed = revert_import(db, batch, None)
        except ImportNotRevertable as exc:
            fail(str(exc))
    typer.echo(f"import #{batch_id} reverted: {removed} row(s) removed")
