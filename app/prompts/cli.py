"""`pairwise prompts import FILE [--project NAME] [--skip-bad]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import _engine, command
from app.db import make_sessionmaker, transaction
from app.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = sub.add_parser("prompts", help="prompts").add_subparsers(
        dest="prompts_cmd", required=True
    )
    p = prompts.add_parser(
        "import", help="import prompts from JSONL, CSV, Parquet, Arrow or a saved dataset folder"
    )
    p.add_argument("file", type=Path)
    p.add_argument("--project", help="project name (default: the only project)")
    p.add_argument("--skip-bad", action="store_true", help="import the good records anyway")
    p.set_defaults(key="prompts.import")


@command("prompts.import")
def prompts_import(args: argparse.Namespace, settings: Settings) -> int:
    from app.projects.deps import project_by_name
    from app.prompts.importer import ImportFileError, parse_path
    from app.prompts.service import import_prompts

    if not args.file.exists():
        print(f"error: {args.file} does not exist", file=sys.stderr)
        return 2
    try:
        parsed = parse_path(args.file, settings.prompt_max_chars)
    except ImportFileError as exc:
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 2
    factory = make_sessionmaker(_engine(settings))
    try:
        with transaction(factory) as db:
            project = project_by_name(db, args.project)
            summary = import_prompts(db, project, parsed, skip_bad=args.skip_bad, actor_id=None)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in summary.rejected:
        print(f"{summary.unit} {problem.line}: {problem.reason}", file=sys.stderr)
    for dup in summary.duplicates:
        print(f"{summary.unit} {dup.line}: skipped, {dup.reason}")
    if not summary.imported:
        print(
            f"nothing imported: {len(summary.rejected)} bad record(s); fix them or pass --skip-bad",
            file=sys.stderr,
        )
        return 1
    print(
        f"added {summary.added}, skipped {summary.skipped} duplicate(s), "
        f"rejected {len(summary.rejected)} into project {project.name!r}"
    )
    return 0
