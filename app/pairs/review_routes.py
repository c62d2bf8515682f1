"""The review queue's pages: the queue, one pair's votes side by side, the final label."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from app.deps import DbDep, Reviewer
from app.models.labeling import CHOICES
from app.pairs import review, service
from app.pairs.deps import ReviewablePair
from app.projects.deps import ChosenProjectDep, chosen_project
from app.projects.service import visible_projects
from app.vocabulary import CHOICE_LABELS
from app.web import redirect, render

router = APIRouter(prefix="/review", tags=["review"], include_in_schema=False)


@router.get("")
def queue_page(
    request: Request,
    db: DbDep,
    principal: Reviewer,
    proj: ChosenProjectDep,
    after: int | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = review.QUEUE_PAGE,
    decided: int | None = None,
) -> Response:
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "queue": review.review_queue(db, proj, after=after, limit=limit),
        "depth": review.queue_depth(db, proj.id),
        "decided": decided,
    }
    return render(request, "review/queue.html", ctx)


@router.get("/pairs/{pair_id}")
def review_page(request: Request, db: DbDep, principal: Reviewer, pair: ReviewablePair) -> Response:
    ctx = {
        "project": chosen_project(db, principal, pair.project_id),
        "detail": service.pair_detail(db, pair),
        "choice_labels": {c: CHOICE_LABELS[c] for c in CHOICES},
    }
    return render(request, "review/pair.html", ctx)


@router.post("/pairs/{pair_id}")
def review_decide(
    request: Request,
    db: DbDep,
    principal: Reviewer,
    pair: ReviewablePair,
    choice: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=review.NOTE_MAX)] = "",
) -> Response:
    review.adjudicate(db, pair, choice, note, principal.user.id)
    return redirect(request, f"/review?project={pair.project_id}&decided={pair.id}")
