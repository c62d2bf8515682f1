"""Demonstration pages: the editor on the labelling page (htmx fragments) and the review list.

The editor is its own fragment (`#demonstration`), so writing an answer never touches the
label form beside it: evaluators write on the pair they are assigned, reviewers (and admins)
accept or reject in the data tools.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import Response

from app.demonstrations import service
from app.demonstrations.service import DemonstrationError
from app.deps import DbDep, Evaluator, Reviewer
from app.labeling.service import NotFound
from app.models import Demonstration
from app.projects.deps import ChosenProjectDep, chosen_project
from app.projects.service import visible_projects
from app.vocabulary import DemonstrationStatus
from app.web import redirect, render

router = APIRouter(tags=["demonstrations"], include_in_schema=False)
EDITOR = "demonstrations/_editor.html"


def _reviewable(db: DbDep, principal: Reviewer, demonstration_id: int) -> Demonstration:
    demo = db.get(Demonstration, demonstration_id)
    if demo is None:
        raise HTTPException(404, "No such demonstration.")
    chosen_project(db, principal, demo.project_id)  # 404 outside the caller's projects
    return demo


ReviewableDemonstration = Annotated[Demonstration, Depends(_reviewable)]


@router.get("/label/demonstration")
def editor(
    request: Request,
    db: DbDep,
    principal: Evaluator,
    assignment_id: int,
    start: Annotated[str, Query(max_length=8)] = "blank",
) -> Response:
    try:
        draft = service.draft(db, principal.user, assignment_id, start)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except DemonstrationError as exc:
        raise HTTPException(422, str(exc)) from None
    return render(request, EDITOR, {"draft": draft, "mode": "edit"})


@router.post("/label/demonstration")
def save(
    request: Request,
    db: DbDep,
    principal: Evaluator,
    assignment_id: Annotated[int, Form()],
    text: Annotated[str, Form(max_length=service.TEXT_MAX * 2)] = "",
    start: Annotated[str, Form(max_length=8)] = "blank",
) -> Response:
    try:
        demo, source = service.write(db, principal.user, assignment_id, text, start)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except DemonstrationError as exc:
        draft = service.Draft(assignment_id, start, None, text)
        return render(request, EDITOR, {"draft": draft, "mode": "edit", "error": str(exc)})
    changes = service.diff(source.text, demo.text) if source is not None else []
    ctx = {"mode": "saved", "demo": demo, "source": source, "changes": changes}
    ctx["draft"] = service.Draft(assignment_id, start, source, demo.text)
    return render(request, EDITOR, ctx)


@router.get("/review/demonstrations")
def review_list(
    request: Request,
    db: DbDep,
    principal: Reviewer,
    proj: ChosenProjectDep,
    status: Annotated[str, Query(max_length=16)] = DemonstrationStatus.pending,
    after: int | None = None,
) -> Response:
    if status not in tuple(DemonstrationStatus):
        raise HTTPException(422, "Unknown status.")
    ctx = {
        "project": proj,
        "projects": visible_projects(db, principal.user),
        "status": status,
        "page": service.review_page(db, proj, status, after=after),
    }
    return render(request, "demonstrations/review.html", ctx)


@router.post("/review/demonstrations/{demonstration_id}")
def review_decide(
    request: Request,
    db: DbDep,
    principal: Reviewer,
    demo: ReviewableDemonstration,
    decision: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=service.NOTE_MAX * 2)] = "",
) -> Response:
    try:
        service.review(db, demo, decision, note, principal.user.id)
    except DemonstrationError as exc:
        raise HTTPException(422, str(exc)) from None
    return redirect(request, f"/review/demonstrations?project={demo.project_id}")
