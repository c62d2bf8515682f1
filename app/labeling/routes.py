"""The labelling page: one pair at a time, submitted and skipped through htmx.

`GET /label` renders the whole page, or only the `labeling` block for htmx (the
empty queue polls it). POSTs answer htmx with the next pair's block (no history
entry, so back/reload never resubmits) and plain browsers with a 303 to /label.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.deps import DbDep, Evaluator, SettingsDep
from app.labeling import history, service
from app.labeling.schemas import SKIP_REASONS, RankIn, SkipIn, SubmitIn, choice_form
from app.labeling.service import LeaseExpired, NotFound
from app.labeling.submission import InvalidSubmission, KeyConflict, submit
from app.loop.service import evaluator_strip
from app.models import Project, User
from app.projects.deps import ChosenProjectFormDep, ProjectOrNoneDep
from app.projects.service import visible_projects
from app.settings import Settings
from app.web import is_htmx, redirect, render

router = APIRouter(tags=["labeling"])

FRIENDLY = {
    "choice": "pick A better, B better, tie or both bad",
    "ranking": "put every response in order, best first",
    "assignment_id": "the form is missing its assignment; reload the page",
}


def _errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else "form"
        out.setdefault(field, FRIENDLY.get(field, e["msg"]))
    return out


def _page(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    project: Project | None,
    *,
    notice: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    lease = service.next_pair(db, settings, user, project) if project else None
    ctx = {
        "project": project,
        "projects": visible_projects(db, user),
        "lease": lease,
        "counters": service.counters(db, user, project) if project else None,
        "can_undo": history.can_undo(db, user, project) if project else False,
        "strip": evaluator_strip(db, project, user) if project else None,
        "notice": notice,
        "errors": errors or {},
        "form": form or {},
        "skip_reasons": SKIP_REASONS,
        "poll_seconds": settings.label_poll_seconds,
        "heartbeat_seconds": max(10, min(60, settings.lease_minutes * 20)),
    }
    return render(request, "label.html", ctx, block="labeling", status_code=status)


def _project_of(db: Session, user: User, assignment_id: int) -> Project:
    return service.owned(db, user, assignment_id, lock=False).project


def _done(request: Request, project: Project) -> Response | None:
    return None if is_htmx(request) else redirect(request, f"/label?project={project.id}")


@router.get("/label", include_in_schema=False)
def label_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    project: ProjectOrNoneDep,
) -> Response:
    return _page(request, db, settings, principal.user, project)


@router.post("/label/submit", include_in_schema=False)
def label_submit(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    assignment_id: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    strength: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    flags: Annotated[list[str] | None, Form()] = None,
    decision_ms: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    raw: dict[str, Any] = {
        "assignment_id": assignment_id,
        **choice_form(choice, strength, rationale, flags),
        "decision_ms": decision_ms or None,
        "idempotency_key": idempotency_key or None,
    }
    return _judge(request, db, settings, principal.user, raw, SubmitIn)


@router.post("/label/rank", include_in_schema=False)
def label_rank(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    assignment_id: Annotated[str, Form()] = "",
    ranking: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    flags: Annotated[list[str] | None, Form()] = None,
    decision_ms: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
) -> Response:
    raw: dict[str, Any] = {
        "assignment_id": assignment_id,
        "ranking": ranking,
        "rationale": rationale,
        "flags": flags or [],
        "decision_ms": decision_ms or None,
        "idempotency_key": idempotency_key or None,
    }
    return _judge(request, db, settings, principal.user, raw, RankIn)


def _judge(
    request: Request,
    db: Session,
    settings: Settings,
    user: User,
    raw: dict[str, Any],
    schema: type[SubmitIn] | type[RankIn],
) -> Response:
    """Validate and store a pair's judgement or a ranking; answer with the next task."""
    try:
        data = schema.model_validate(raw)
    except ValidationError as exc:
        assignment_id = str(raw["assignment_id"])
        if not assignment_id.isdigit():
            raise HTTPException(422, FRIENDLY["assignment_id"]) from None
        project = _project_of_or_404(db, user, int(assignment_id))
        status, errors = _bad(request), _errors(exc)
        return _page(request, db, settings, user, project, errors=errors, form=raw, status=status)
    project = _project_of_or_404(db, user, data.assignment_id)
    try:
        submit(db, user, data)
    except (InvalidSubmission, KeyConflict) as exc:
        field = exc.field if isinstance(exc, InvalidSubmission) else "idempotency_key"
        message = exc.message if isinstance(exc, InvalidSubmission) else str(exc)
        return _page(
            request,
            db,
            settings,
            user,
            project,
            errors={field: message},
            form=raw,
            status=_bad(request),
        )
    except LeaseExpired as exc:
        return _done(request, project) or _page(
            request, db, settings, user, project, notice=str(exc)
        )
    return _done(request, project) or _page(request, db, settings, user, project, notice="Saved.")


@router.post("/label/skip", include_in_schema=False)
def label_skip(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    assignment_id: Annotated[int, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    user = principal.user
    project = _project_of_or_404(db, user, assignment_id)
    try:
        data = SkipIn(reason=reason)
    except ValidationError:
        return _page(
            request,
            db,
            settings,
            user,
            project,
            errors={"reason": "choose a reason for skipping"},
            status=_bad(request),
        )
    try:
        service.skip(db, user, assignment_id, data.reason)
    except LeaseExpired as exc:
        return _done(request, project) or _page(
            request, db, settings, user, project, notice=str(exc)
        )
    return _done(request, project) or _page(request, db, settings, user, project, notice="Skipped.")


@router.post("/label/undo", include_in_schema=False)
def label_undo(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    chosen: ChosenProjectFormDep,
) -> Response:
    """Withdraw the caller's last label in the project and show its pair again."""
    user = principal.user
    try:
        history.undo_last(db, settings, user, chosen.id)
    except (history.ChangeRefused, NotFound) as exc:
        return _done(request, chosen) or _page(request, db, settings, user, chosen, notice=str(exc))
    notice = "Your last label was withdrawn: here is its pair again."
    return _done(request, chosen) or _page(request, db, settings, user, chosen, notice=notice)


def _project_of_or_404(db: Session, user: User, assignment_id: int) -> Project:
    try:
        return _project_of(db, user, assignment_id)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _bad(request: Request) -> int:
    # htmx swaps only 2xx answers by default; plain form posts get the honest status.
    return 200 if is_htmx(request) else 422
