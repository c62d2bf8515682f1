"""Demonstrations for scripts: write one on an assigned pair or on a prompt; review one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from app.api.errors import ApiProblem
from app.demonstrations import service
from app.demonstrations.routes import ReviewableDemonstration
from app.demonstrations.service import DemonstrationError
from app.deps import DbDep, Evaluator, Reviewer
from app.labeling.service import NotFound
from app.models import Demonstration, Prompt
from app.projects.service import get_visible_project

router = APIRouter(tags=["demonstrations"])


class DemonstrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=service.TEXT_MAX * 2, description="the answer you would want")
    start: Literal["left", "right", "blank"] = Field(
        "blank", description="on a pair: the response (as shown) it was edited from"
    )


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"]
    note: str = Field("", max_length=service.NOTE_MAX)


class DemonstrationOut(BaseModel):
    id: int
    project_id: int
    prompt_id: int
    pair_id: int | None
    source_completion_id: int | None
    text: str
    status: str
    review_note: str

    @classmethod
    def of(cls, demo: Demonstration) -> DemonstrationOut:
        return cls(
            id=demo.id,
            project_id=demo.project_id,
            prompt_id=demo.prompt_id,
            pair_id=demo.pair_id,
            source_completion_id=demo.source_completion_id,
            text=demo.text,
            status=demo.status,
            review_note=demo.review_note,
        )


def _labelled_prompt(db: DbDep, principal: Evaluator, prompt_id: int) -> Prompt:
    prompt = db.get(Prompt, prompt_id)
    if prompt is None or get_visible_project(db, principal.user, prompt.project_id) is None:
        raise HTTPException(404, "No such prompt.")
    return prompt


LabelledPrompt = Annotated[Prompt, Depends(_labelled_prompt)]


def _invalid(exc: DemonstrationError) -> ApiProblem:
    return ApiProblem(422, str(exc), field=exc.field)


@router.post("/assignments/{assignment_id}/demonstration")
def write_on_pair(
    assignment_id: int, body: DemonstrationIn, db: DbDep, principal: Evaluator
) -> DemonstrationOut:
    """Your answer for the pair of one of your assignments (replaces your earlier one for
    its prompt and sends it back to review)."""
    try:
        demo, _ = service.write(db, principal.user, assignment_id, body.text, body.start)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except DemonstrationError as exc:
        raise _invalid(exc) from None
    return DemonstrationOut.of(demo)


@router.post("/prompts/{prompt_id}/demonstration")
def write_on_prompt(
    body: DemonstrationIn, db: DbDep, principal: Evaluator, prompt: LabelledPrompt
) -> DemonstrationOut:
    """Your answer for a prompt of a project you label, written from scratch."""
    try:
        return DemonstrationOut.of(service.write_on_prompt(db, principal.user, prompt, body.text))
    except DemonstrationError as exc:
        raise _invalid(exc) from None


@router.post("/demonstrations/{demonstration_id}/review")
def review(
    body: ReviewIn, db: DbDep, principal: Reviewer, demo: ReviewableDemonstration
) -> DemonstrationOut:
    """Accept or reject a demonstration (reviewers and admins); rejected ones never train."""
    try:
        return DemonstrationOut.of(
            service.review(db, demo, body.decision, body.note, principal.user.id)
        )
    except DemonstrationError as exc:
        raise _invalid(exc) from None
