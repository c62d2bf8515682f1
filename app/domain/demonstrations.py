"""Demonstrations → SFT rows: the one rule for which written answers the loop learns from.

The trainer's `sft` stage and the TRL export both read `demonstration_rows`, so an exported
file holds what a run at the same watermark trains on:

- only the project's demonstrations up to the watermark (their highest id when the run
  first started);
- rejected ones never count; pending ones count unless `accepted_only`;
- those of deactivated annotators never count; those an admin excluded for quality, and
  those of simulated annotators, count only when asked;
- held-out prompts never yield a training row.

A row is a conversation in TRL's `messages` format: the prompt's turns, then the
demonstration as the assistant's turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.domain.messages import Message, PromptValue, as_messages, prompt_value
from app.domain.project_settings import settings_of
from app.models import Demonstration, Project, Prompt, User
from app.vocabulary import DemonstrationStatus

BATCH = 1000


@dataclass(frozen=True)
class DemonstrationSelection:
    """Which demonstrations count; the defaults are what a training run uses."""

    up_to: int | None = None  # the watermark: highest demonstration id included
    accepted_only: bool = False
    include_simulated: bool = False
    include_excluded: bool = False


@dataclass
class DemonstrationRow:
    prompt: PromptValue
    completion: str
    prompt_id: int = 0
    demonstration_id: int = 0

    def messages(self, system_prompt: str | None = None) -> list[Message]:
        """The conversation in TRL's `messages` format (prompt turns, then the answer)."""
        turns = as_messages(self.prompt, system_prompt)
        return [*turns, {"role": "assistant", "content": self.completion}]


def demonstration_scope(project: Project, sel: DemonstrationSelection) -> list[ColumnElement[bool]]:
    """Conditions on Demonstration (joined with Prompt) shared by the export and the trainer."""
    counted = (
        [DemonstrationStatus.accepted]
        if sel.accepted_only
        else [DemonstrationStatus.accepted, DemonstrationStatus.pending]
    )
    conditions: list[ColumnElement[bool]] = [
        Demonstration.project_id == project.id,
        Demonstration.status.in_(counted),
        Demonstration.user_id.not_in(select(User.id).where(User.active.is_(False))),
        Prompt.held_out.is_(False),
    ]
    if sel.up_to is not None:
        conditions.append(Demonstration.id <= sel.up_to)
    excluded = list(settings_of(project).excluded_annotators)
    if excluded and not sel.include_excluded:
        conditions.append(Demonstration.user_id.not_in(excluded))
    if not sel.include_simulated:
        conditions.append(Demonstration.user_id.not_in(select(User.id).where(User.simulated)))
    return conditions


def demonstration_rows(
    db: Session, project: Project, sel: DemonstrationSelection
) -> Iterator[DemonstrationRow]:
    """The demonstrations the loop learns from, oldest first, read in batches."""
    stmt = (
        select(
            Demonstration.id,
            Demonstration.prompt_id,
            Demonstration.text,
            Prompt.text,
            Prompt.messages,
        )
        .join(Prompt, Prompt.id == Demonstration.prompt_id)
        .where(*demonstration_scope(project, sel))
        .order_by(Demonstration.id)
        .execution_options(yield_per=BATCH)
    )
    for demo_id, prompt_id, text, prompt_text, messages in db.execute(stmt):
        yield DemonstrationRow(prompt_value(prompt_text, messages), text, prompt_id, demo_id)


def current_demonstration_watermark(db: Session, project_id: int) -> int:
    """The project's highest demonstration id (what a run started now would train up to)."""
    stmt = select(func.max(Demonstration.id)).where(Demonstration.project_id == project_id)
    return int(db.scalar(stmt) or 0)
