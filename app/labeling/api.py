"""The labelling flow for scripts: next pair, submit, skip, heartbeat (mirrors /label)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from app.api.errors import CONFLICT, problem_response
from app.deps import DbDep, Evaluator, SettingsDep
from app.labeling import service
from app.labeling.schemas import (
    ComparisonOut,
    LeaseOut,
    NextOut,
    PairOut,
    PromptOut,
    RankIn,
    RankItemOut,
    SkipIn,
    SubmitIn,
    TurnOut,
)
from app.labeling.service import Lease, LeaseExpired
from app.labeling.submission import Submitted, submit
from app.models import Project, User
from app.projects.deps import ProjectIdOrNoneDep
from app.settings import Settings

router = APIRouter(tags=["labeling"])

AlsoNext = Annotated[
    bool, Query(description="Also lease and return the next pair (the `next` member).")
]


def pair_out(lease: Lease, project: Project) -> PairOut:
    messages = lease.prompt.messages
    return PairOut(
        assignment_id=lease.assignment.id,
        pair_id=lease.pair.id,
        project_id=lease.pair.project_id,
        prompt=PromptOut(
            id=lease.prompt.id,
            text=lease.prompt.text,
            messages=[
                TurnOut(role=str(m.get("role", "")), content=str(m.get("content", "")))
                for m in messages
            ]
            if messages
            else None,
        ),
        left=lease.left.text,
        right=lease.right.text,
        left_cut_off=lease.left.cut_off,
        right_cut_off=lease.right.cut_off,
        expires_at=lease.assignment.expires_at,
        idempotency_key=lease.idempotency_key,
        flags=list(project.flags or []),
        guidelines_version=project.guidelines_version,
        ranking=[RankItemOut(id=c.id, text=c.text, cut_off=c.cut_off) for c in lease.items] or None,
    )


def comparison_out(result: Submitted) -> ComparisonOut:
    c = result.comparison
    return ComparisonOut(
        id=c.id,
        pair_id=c.pair_id,
        assignment_id=c.assignment_id,
        choice=c.choice,
        strength=c.strength,
        rationale=c.rationale,
        flags=list(c.flags),
        decision_ms=c.decision_ms,
        client_decision_ms=c.client_decision_ms,
        guidelines_version=c.guidelines_version,
        idempotency_key=result.client_key,
        replayed=result.replayed,
    )


def _next(db: Session, settings: Settings, user: User, project: Project | None) -> NextOut:
    if project is None:
        return NextOut(pair=None, message="You are not a member of any project.")
    lease = service.next_pair(db, settings, user, project)
    if lease is None:
        wait = settings.label_poll_seconds
        return NextOut(pair=None, message=f"No pairs need labelling now; ask again in {wait} s.")
    return NextOut(pair=pair_out(lease, project))


@router.get("/pairs/next", response_model=NextOut)
def next_pair(
    db: DbDep, settings: SettingsDep, principal: Evaluator, project: ProjectIdOrNoneDep
) -> NextOut:
    """The caller's leased pair (the same one until submitted, skipped or expired)."""
    return _next(db, settings, principal.user, project)


@router.post(
    "/comparisons",
    response_model=ComparisonOut,
    status_code=201,
    responses={200: {"description": "A retry: the stored comparison"}, **CONFLICT},
)
def create_comparison(
    data: SubmitIn,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    next: AlsoNext = False,  # noqa: A002 - the query parameter's public name
) -> Response | ComparisonOut:
    """Store a judgement; `choice` is left/right/tie/both_bad as shown by /pairs/next."""
    return _store(data, db, settings, principal.user, next)


@router.post(
    "/rankings",
    response_model=ComparisonOut,
    status_code=201,
    responses={200: {"description": "A retry: the stored comparison"}, **CONFLICT},
)
def create_ranking(
    data: RankIn,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    next: AlsoNext = False,  # noqa: A002 - the query parameter's public name
) -> Response | ComparisonOut:
    """Rank a ranking task's responses (`ranking` in /pairs/next), best first; the reply's
    `choice` is the a-versus-b vote the ranking implies."""
    return _store(data, db, settings, principal.user, next)


def _store(
    data: SubmitIn | RankIn, db: Session, settings: Settings, user: User, next: bool
) -> Response | ComparisonOut:
    try:
        result = submit(db, user, data)
    except LeaseExpired as exc:
        # Nothing was stored, but the reply carries the next lease (kept: a response, not
        # a raised error, so the unit of work commits it).
        project = service.owned(db, user, data.assignment_id, lock=False).project
        following = _next(db, settings, user, project)
        return problem_response(409, str(exc), extra={"next": following.model_dump(mode="json")})
    out = comparison_out(result)
    if next:
        out.next = _next(db, settings, user, result.project)
    if result.replayed:
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.post("/assignments/{assignment_id}/skip", response_model=LeaseOut, responses=CONFLICT)
def skip(assignment_id: int, data: SkipIn, db: DbDep, principal: Evaluator) -> LeaseOut:
    """Give the pair back with a reason; it returns to the pool for others."""
    a = service.skip(db, principal.user, assignment_id, data.reason)
    return LeaseOut(assignment_id=a.id, status=a.status, expires_at=a.expires_at)


@router.post("/assignments/{assignment_id}/heartbeat", response_model=LeaseOut, responses=CONFLICT)
def heartbeat(
    assignment_id: int, db: DbDep, settings: SettingsDep, principal: Evaluator
) -> LeaseOut:
    """Extend a live lease (the page calls this while it is open)."""
    a = service.heartbeat(db, settings, principal.user, assignment_id)
    return LeaseOut(assignment_id=a.id, status=a.status, expires_at=a.expires_at)
