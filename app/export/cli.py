"""`pairwise export --format trl|raw|sft --out FILE` (or `--hf --out FOLDER`), with progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

from app.cli_common import engine, fail, progress_bar, settings

commands = typer.Typer()

DAY = ["%Y-%m-%d"]


@commands.command()
def export(
    out: Annotated[Path, typer.Option(help="file to write", show_default=False)],
    format_: Annotated[Literal["trl", "raw", "sft"], typer.Option("--format")] = "trl",
    csv: Annotated[bool, typer.Option("--csv", help="raw format as CSV instead of JSONL")] = False,
    parquet: Annotated[bool, typer.Option("--parquet", help="Parquet instead of JSONL")] = False,
    hf: Annotated[
        bool,
        typer.Option("--hf", help="a Hugging Face dataset folder (save_to_disk) at --out"),
    ] = False,
    project: Annotated[
        str | None, typer.Option(help="project name or id (default: the only project)")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(formats=DAY, metavar="YYYY-MM-DD", help="from this day (YYYY-MM-DD)"),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(formats=DAY, metavar="YYYY-MM-DD", help="up to and including this day"),
    ] = None,
    tag: Annotated[str, typer.Option(help="only prompts with this tag")] = "",
    exclude_ties: Annotated[
        bool, typer.Option("--exclude-ties", help="raw: drop tie and both-bad rows")
    ] = False,
    include_excluded: Annotated[
        bool, typer.Option("--include-excluded", help="keep excluded annotators")
    ] = False,
    no_aggregate: Annotated[
        bool, typer.Option("--no-aggregate", help="trl: a row per comparison")
    ] = False,
    pseudonymise: Annotated[
        bool, typer.Option("--pseudonymise", help="raw: hashed annotator ids")
    ] = False,
    include_imported: Annotated[
        bool, typer.Option("--include-imported", help="trl, raw: add imported preference data")
    ] = False,
) -> None:
    """export comparisons for training (TRL) or analysis (raw), or demonstrations (sft)"""
    from app.db import make_sessionmaker, transaction
    from app.export.service import ExportOptions, ExportOptionsError, iter_lines
    from app.projects.service import command_line_project

    config = settings()
    try:
        opts = ExportOptions(
            kind=format_,
            file_format="parquet" if parquet or hf else "csv" if csv else "jsonl",
            since=since.replace(tzinfo=UTC) if since else None,
            until=until.replace(tzinfo=UTC) + timedelta(days=1) if until else None,
            tag=tag,
            exclude_ties=exclude_ties,
            exclude_excluded=not include_excluded,
            aggregate=not no_aggregate,
            pseudonymise=pseudonymise,
            include_imported=include_imported,
        )
    except ExportOptionsError as exc:  # the web export refuses them with the same words
        fail(str(exc))
    factory = make_sessionmaker(engine(config))
    rows = -1 if opts.file_format == "csv" else 0  # the CSV header is not a row
    secret = config.resolved_secret_key()
    if hf and out.exists() and any(out.iterdir() if out.is_dir() else [out]):
        fail(f"{out} exists and is not an empty folder")
    try:
        if hf:
            from app.export.hf import write_hf_dataset

            with transaction(factory) as db, progress_bar(None, "exporting") as bar:
                chosen = command_line_project(db, project)
                rows = write_hf_dataset(db, chosen, opts, secret, out, bar.update)
        elif opts.file_format == "parquet":
            from app.export.parquet import write_parquet

            with (
                transaction(factory) as db,
                out.open("wb") as bout,
                progress_bar(None, "exporting") as bar,
            ):
                chosen = command_line_project(db, project)
                rows = write_parquet(db, chosen, opts, secret, bout, bar.update)
        else:
            with (
                transaction(factory) as db,
                out.open("w", encoding="utf-8") as text,
                progress_bar(None, "exporting") as bar,
            ):
                chosen = command_line_project(db, project)
                for line in iter_lines(db, chosen, opts, secret):
                    text.write(line)
                    rows += 1
                    bar.update(1)
    except LookupError as exc:
        fail(str(exc))
    typer.echo(f"wrote {rows} row(s) to {out}")
