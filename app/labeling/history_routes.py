"""The evaluator's history page: their recent labels, each changeable within the window.

`GET /label/history` lists the caller's live labels in a project, newest first (keyset
pages); `POST /label/history/{id}/change` stores a change of mind and comes back here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.deps import DbDep, Evaluator
from app.labeling import history
from app.labeling.schemas import ChangeIn, choice_form
from app.labeling.service import NotFound
from app.labeling.submission import InvalidSubmission, screen_choice
from app.models import Project, User
from app.projects.deps import ProjectOrNoneDep
from app.projects.service import visible_projects
from app.vocabulary import CHOICE_LABELS
from app.web import redirect, render

router = APIRouter(tags=["labeling"], include_in_schema=False)

# The choice as the evaluator saw it: the completion shown left was "A".
SCREEN_TO_SHOWN = {"left": "a", "right": "b", "tie": "tie", "both_bad": "both_bad"}


def _page(
    request: Request,
    db: Session,
    user: User,
    project: Project | None,
    before: int | None = None,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    page = (
        history.my_comparisons(db, user, project_id=project.id, before=before)
        if project
        else history.HistoryPage([], None)
    )
    rows = [
        (
            item,
            CHOICE_LABELS[SCREEN_TO_SHOWN[screen_choice(item.comparison.choice, item.left_side)]],
        )
        for item in page.items
    ]
    ctx = {
        "project": project,
        "projects": visible_projects(db, user),
        "rows": rows,
        "choices": [(screen, CHOICE_LABELS[shown]) for screen, shown in SCREEN_TO_SHOWN.items()],
        "page": page,
        "error": error,
    }
    return render(request, "label_history.html", ctx, status_code=status)


@router.get("/label/history")
def history_page(
    request: Request,
    db: DbDep,
    principal: Evaluator,
    project: ProjectOrNoneDep,
    before: int | None = None,
) -> Response:
    return _page(request, db, principal.user, project, before)


@router.post("/label/history/{comparison_id}/change")
def history_change(
    request: Request,
    db: DbDep,
    principal: Evaluator,
    comparison_id: int,
    choice: Annotated[str, Form()] = "",
    strength: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    flags: Annotated[list[str] | None, Form()] = None,
) -> Response:
    user = principal.user
    # The label's own project, looked up first: someone else's label is a 404, whatever the form.
    _, chosen = history.owned_label(db, user, comparison_id)
    try:
        data = ChangeIn.model_validate(choice_form(choice, strength, rationale, flags))
    except ValidationError:
        error = "Choose A better, B better, tie or both bad (a strength only for A or B)."
        return _page(request, db, user, chosen, error=error, status=422)
    try:
        history.change(db, user, comparison_id, data)
    except InvalidSubmission as exc:
        return _page(request, db, user, chosen, error=exc.message, status=422)
    except history.ChangeRefused as exc:  # refused before anything was stored
        return _page(request, db, user, chosen, error=str(exc), status=409)
    except NotFound as exc:
        return _page(request, db, user, chosen, error=str(exc), status=404)
    return redirect(request, f"/label/history?project={chosen.id}")
