"""`pairwise export --format trl|raw --out FILE`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from app.cli import _engine, command
from app.db import make_sessionmaker, transaction
from app.settings import Settings


def _day(value: str) -> datetime:
    return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="export comparisons for training (TRL) or analysis (raw)")
    p.add_argument("--format", choices=["trl", "raw"], default="trl")
    p.add_argument("--out", type=Path, required=True, help="file to write")
    p.add_argument("--csv", action="store_true", help="raw format as CSV instead of JSONL")
    p.add_argument("--parquet", action="store_true", help="Parquet instead of JSONL")
    p.add_argument("--project", help="project name (default: the only project)")
    p.add_argument("--since", type=_day, help="from this day (YYYY-MM-DD)")
    p.add_argument("--until", type=_day, help="up to and including this day")
    p.add_argument("--tag", default="", help="only prompts with this tag")
    p.add_argument("--exclude-ties", action="store_true", help="raw: drop tie and both-bad rows")
    p.add_argument("--include-excluded", action="store_true", help="keep excluded annotators")
    p.add_argument("--no-aggregate", action="store_true", help="trl: a row per comparison")
    p.add_argument("--pseudonymise", action="store_true", help="raw: hashed annotator ids")
    p.set_defaults(key="export")


@command("export")
def export(args: argparse.Namespace, settings: Settings) -> int:
    from app.export.service import ExportOptions, iter_lines
    from app.projects.deps import project_by_name

    opts = ExportOptions(
        kind=args.format,
        file_format="parquet" if args.parquet else "csv" if args.csv else "jsonl",
        since=args.since,
        until=args.until + timedelta(days=1) if args.until else None,
        tag=args.tag,
        exclude_ties=args.exclude_ties,
        exclude_excluded=not args.include_excluded,
        aggregate=not args.no_aggregate,
        pseudonymise=args.pseudonymise,
    )
    factory = make_sessionmaker(_engine(settings))
    rows = -1 if opts.file_format == "csv" else 0
    secret = settings.resolved_secret_key()
    try:
        if opts.file_format == "parquet":
            from app.export.parquet import write_parquet

            with transaction(factory) as db, args.out.open("wb") as bout:
                rows = write_parquet(db, project_by_name(db, args.project), opts, secret, bout)
        else:
            with transaction(factory) as db, args.out.open("w", encoding="utf-8") as out:
                project = project_by_name(db, args.project)
                for line in iter_lines(db, project, opts, secret):
                    out.write(line)
                    rows += 1
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {rows} row(s) to {args.out}")
    return 0
