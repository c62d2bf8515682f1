"""The demo's prompt set, so that `pairwise demo` has material for a session before any import.

The prompts live in `demo_prompts.jsonl` beside this module (package data): everyday
questions, explanations, advice, writing and small coding tasks, tagged `demo` and by kind;
about a tenth carry `"held_out": true` and form the evaluation set. They are stored through
the same importer as an admin's upload.
"""

from __future__ import annotations

from importlib.resources import files

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from app.models import Project, Prompt
from app.prompts.importer import Parsed, parse_bytes
from app.prompts.service import import_prompts

DEMO_FILE = "demo_prompts.jsonl"
DEMO_TAG = "demo"
MAX_CHARS = 2000


def demo_prompt_file() -> bytes:
    return files("app.sampling").joinpath(DEMO_FILE).read_bytes()


def parsed_demo_prompts() -> Parsed:
    """The demo set as the importer reads it; a bad record here is a bug in the file."""
    parsed = parse_bytes(DEMO_FILE, demo_prompt_file(), MAX_CHARS)
    if parsed.problems:
        first = parsed.problems[0]
        raise ValueError(f"{DEMO_FILE} line {first.line}: {first.reason}")
    return parsed


def demo_prompt_texts() -> list[str]:
    return [record.text for record in parsed_demo_prompts().records]


def seed_demo_prompts(db: Session, project: Project) -> int:
    """Add the demo prompts a project lacks, unless it holds prompts of its own; returns
    how many were added (a project seeded by an older release gets the new ones)."""
    not_demo = cast(Prompt.tags, String).not_like(f'%"{DEMO_TAG}"%')
    own = db.scalar(select(Prompt.id).where(Prompt.project_id == project.id, not_demo).limit(1))
    if own is not None:
        return 0
    summary = import_prompts(db, project, parsed_demo_prompts(), skip_bad=False, actor_id=None)
    return summary.added
