"""A few starter prompts so that `pairwise demo` has pairs to label before any import."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Project, Prompt
from app.prompts.importer import content_hash

DEMO_PROMPTS = [
    "Explain why the sky is blue to a ten-year-old.",
    "Write a short, friendly email declining a meeting invitation.",
    "Give three tips for staying focused while working from home.",
    "What is the difference between a list and a tuple in Python?",
    "Suggest a name for a cozy neighbourhood coffee shop and explain it.",
    "Summarise the water cycle in four sentences.",
    "How do I politely ask a colleague to stop interrupting me?",
    "Write a haiku about autumn leaves.",
]


def seed_demo_prompts(db: Session, project: Project) -> int:
    """Add the starter prompts to a project that has none; returns how many were added."""
    if db.scalar(select(Prompt.id).where(Prompt.project_id == project.id).limit(1)) is not None:
        return 0
    for text in DEMO_PROMPTS:
        db.add(
            Prompt(
                project_id=project.id,
                text=text,
                content_hash=content_hash(text, None),
                tags=["demo"],
            )
        )
    db.flush()
    return len(DEMO_PROMPTS)
