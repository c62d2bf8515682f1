"""The data browser's API twin: list and read pairs; send one for review; retire in bulk."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import Admin, AdminOrML, DbDep, Reviewer
from app.models import Adjudication
from app.pairs import review, service
from app.pairs.deps import AdminPair, ReadablePair, ReviewablePair
from app.pairs.schemas import (
    AdjudicationOut,
    CompletionOut,
    PairDetailOut,
    PairFilter,
    PairPageOut,
    PairRowOut,
    VoteOut,
)
from app.projects.deps import ChosenProjectDep, chosen_project

router = APIRouter(prefix="/pairs", tags=["data"])
review_router = APIRouter(prefix="/review", tags=["review"])


def adjudication_out(row: Adjudication | None, decided_by: str | None) -> AdjudicationOut | None:
    if row is None:
        return None
    return AdjudicationOut(
        status=row.status,
        choice=row.choice,
        note=row.note,
        reason=row.reason,
        decided_by=decided_by,
        decided_at=row.decided_at,
    )


def detail_out(d: service.PairDetail) -> PairDetailOut:
    """The pair's own fields with its prompt, completions, votes and who decided it."""
    p = d.pair
    return PairDetailOut(
        id=p.id,
        project_id=p.project_id,
        kind=p.kind,
        status=p.status,
        gold_choice=p.gold_choice,
        labels_required=p.labels_required,
        labels_received=p.labels_received,
        reward_margin=p.reward_margin,
        prompt=d.prompt.text,
        messages=d.prompt.messages,
        a=CompletionOut.model_validate(d.a),
        b=CompletionOut.model_validate(d.b),
        votes=[VoteOut.model_validate(v) for v in d.votes],
        agreement=d.agreement,
        adjudication=adjudication_out(d.adjudication, d.adjudicator),
    )


@router.get("", response_model=PairPageOut)
def api_pairs(
    db: DbDep, principal: AdminOrML, project: ChosenProjectDep, filt: Annotated[PairFilter, Query()]
) -> PairPageOut:
    """Pairs with their vote counts, filtered and sorted; keyset pages (`after` = `next`)."""
    page = service.list_pairs(db, project, filt)
    return PairPageOut(items=[PairRowOut.model_validate(r) for r in page.rows], next=page.next)


@router.get("/{pair_id}", response_model=PairDetailOut)
def api_pair(db: DbDep, principal: AdminOrML, pair: ReadablePair) -> PairDetailOut:
    """One pair: prompt, both completions, every vote, the adjudication if any."""
    return detail_out(service.pair_detail(db, pair))


class ReviewIn(BaseModel):
    reason: str = Field("", max_length=review.NOTE_MAX)


@router.post("/{pair_id}/review", response_model=AdjudicationOut)
def api_send_to_review(
    db: DbDep, principal: Admin, pair: AdminPair, body: ReviewIn
) -> AdjudicationOut | None:
    """Put the pair in the review queue."""
    return adjudication_out(review.send_to_review(db, pair, principal.user.id, body.reason), None)


class RetiredOut(BaseModel):
    retired: int


@router.post("/retire", response_model=RetiredOut)
def api_retire(db: DbDep, principal: Admin, body: PairFilter) -> RetiredOut:
    """Retire every pair the filter matches (all pages); their labels stay."""
    project = chosen_project(db, principal, body.project)
    return RetiredOut(retired=service.retire_matching(db, project, body, principal.user.id))


class AdjudicationIn(BaseModel):
    choice: Literal["a", "b", "tie", "both_bad"]
    note: str = Field(min_length=1, max_length=review.NOTE_MAX, description="Why, for the record.")


@router.put("/{pair_id}/adjudication", response_model=AdjudicationOut)
def api_adjudicate(
    db: DbDep, principal: Reviewer, pair: ReviewablePair, body: AdjudicationIn
) -> AdjudicationOut | None:
    """Set the pair's final label; training and the TRL export use it over the votes."""
    row = review.adjudicate(db, pair, body.choice, body.note, principal.user.id)
    return adjudication_out(row, principal.username)


class QueueOut(BaseModel):
    depth: int
    items: list[PairRowOut]
    next_after: int | None = Field(description="Pass as `after` for the next page.")


@review_router.get("/queue", response_model=QueueOut)
def api_queue(
    db: DbDep,
    principal: Reviewer,
    proj: ChosenProjectDep,
    after: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = review.QUEUE_PAGE,
) -> QueueOut:
    """Pairs waiting for a reviewer (split once labelled, or sent by an admin), oldest first."""
    page = review.review_queue(db, proj, after=after, limit=limit)
    return QueueOut(
        depth=review.queue_depth(db, proj.id),
        items=[PairRowOut.model_validate(r) for r in page.rows],
        next_after=page.next_after,
    )
