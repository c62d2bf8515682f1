"""The playground (ML staff and admins: two named contestants) and anonymous battles
(evaluators: two versions drawn at random, named only once the vote is in)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from app.deps import AdminOrML, DbDep, Evaluator, Principal, SettingsDep
from app.models import PlaygroundMatch, Project
from app.playground import service
from app.playground.engines import engines_of
from app.playground.stream import SidePlan, stream_match
from app.projects.deps import ChosenProjectDep
from app.projects.service import visible_projects
from app.settings import Settings
from app.vocabulary import MatchSource
from app.web import redirect, render

router = APIRouter(include_in_schema=False)

PromptId = Annotated[int | None, Form()]
PromptText = Annotated[str, Form(max_length=service.PROMPT_MAX_CHARS * 2)]
Choice = Annotated[str, Form(max_length=16)]

BASE = {MatchSource.playground: "/playground", MatchSource.battle: "/battle"}


def _form_page(
    request: Request,
    db: Session,
    settings: Settings,
    principal: Principal,
    project: Project,
    source: MatchSource,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
) -> Response:
    ctx = {
        "mode": source,
        "base": BASE[source],
        "projects": visible_projects(db, principal.user),
        "project": project,
        "versions": service.playable_versions(db, project.id),
        "models": settings.playground_models,
        "prompts": service.pickable_prompts(db, project.id),
        "error": error,
        "form": form or {},
    }
    return render(request, "playground.html", ctx, status_code=422 if error else 200)


def _match_page(
    request: Request, db: Session, settings: Settings, match: PlaygroundMatch, block: str | None
) -> Response:
    named = match.source == MatchSource.playground or match.choice is not None
    sides = service.contestants(db, settings, match)
    ctx = {
        "mode": match.source,
        "base": BASE[MatchSource(match.source)],
        "match": match,
        "names": {side: c.label for side, c in sides.items()} if named else None,
        "streaming": match.text_a is None or match.text_b is None,
    }
    return render(request, "playground_match.html", ctx, block=block)


def _stream(request: Request, db: Session, settings: Settings, match: PlaygroundMatch) -> Response:
    sides = service.contestants(db, settings, match)
    plan = {
        side: SidePlan(
            sides[side], getattr(match, f"text_{side}"), getattr(match, f"finish_{side}")
        )
        for side in service.SIDES
    }
    events = stream_match(
        engines_of(request.app.state),
        request.app.state.sessionmaker,
        match.id,
        service.sample_request(db, match),
        plan,
        blind=match.source == MatchSource.battle,
    )
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _vote(
    request: Request, db: Session, settings: Settings, match: PlaygroundMatch, choice: str
) -> Response:
    service.vote(db, match, choice)
    if request.headers.get("hx-request") == "true":
        return _match_page(request, db, settings, match, "vote")
    return redirect(request, f"{BASE[MatchSource(match.source)]}/matches/{match.id}")


# --- the playground (named) ------------------------------------------------------------


@router.get("/playground")
def playground_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: AdminOrML,
    project: ChosenProjectDep,
) -> Response:
    return _form_page(request, db, settings, principal, project, MatchSource.playground)


@router.post("/playground/matches")
def playground_start(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: AdminOrML,
    project: ChosenProjectDep,
    prompt_id: PromptId = None,
    prompt: PromptText = "",
    version_a_id: Annotated[int | None, Form()] = None,
    version_b_id: Annotated[int | None, Form()] = None,
    model_b: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        match = service.start_match(
            db,
            settings,
            project,
            principal.user,
            prompt_id=prompt_id,
            prompt_text=prompt,
            version_a_id=version_a_id,
            version_b_id=version_b_id,
            model_b=model_b,
        )
    except service.PlaygroundError as exc:
        form = {"prompt": prompt, "prompt_id": prompt_id, "version_a_id": version_a_id}
        form |= {"version_b_id": version_b_id, "model_b": model_b}
        return _form_page(
            request, db, settings, principal, project, MatchSource.playground,
            error=str(exc), form=form,
        )  # fmt: skip
    return redirect(request, f"/playground/matches/{match.id}")


@router.get("/playground/matches/{match_id}")
def playground_match(
    request: Request, db: DbDep, settings: SettingsDep, principal: AdminOrML, match_id: int
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.playground)
    return _match_page(request, db, settings, match, None)


@router.post("/playground/matches/{match_id}/stream")
def playground_stream(
    request: Request, db: DbDep, settings: SettingsDep, principal: AdminOrML, match_id: int
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.playground)
    return _stream(request, db, settings, match)


@router.post("/playground/matches/{match_id}/vote")
def playground_vote(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: AdminOrML,
    match_id: int,
    choice: Choice = "",
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.playground)
    return _vote(request, db, settings, match, choice)


# --- anonymous battles (evaluators) -----------------------------------------------------


@router.get("/battle")
def battle_page(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    project: ChosenProjectDep,
) -> Response:
    return _form_page(request, db, settings, principal, project, MatchSource.battle)


@router.post("/battle/matches")
def battle_start(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    project: ChosenProjectDep,
    prompt_id: PromptId = None,
    prompt: PromptText = "",
) -> Response:
    try:
        match = service.start_battle(
            db, project, principal.user, prompt_id=prompt_id, prompt_text=prompt
        )
    except service.PlaygroundError as exc:
        form = {"prompt": prompt, "prompt_id": prompt_id}
        return _form_page(
            request, db, settings, principal, project, MatchSource.battle,
            error=str(exc), form=form,
        )  # fmt: skip
    return redirect(request, f"/battle/matches/{match.id}")


@router.get("/battle/matches/{match_id}")
def battle_match(
    request: Request, db: DbDep, settings: SettingsDep, principal: Evaluator, match_id: int
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.battle)
    return _match_page(request, db, settings, match, None)


@router.post("/battle/matches/{match_id}/stream")
def battle_stream(
    request: Request, db: DbDep, settings: SettingsDep, principal: Evaluator, match_id: int
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.battle)
    return _stream(request, db, settings, match)


@router.post("/battle/matches/{match_id}/vote")
def battle_vote(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: Evaluator,
    match_id: int,
    choice: Choice = "",
) -> Response:
    match = service.own_match(db, principal.user, match_id, MatchSource.battle)
    return _vote(request, db, settings, match, choice)
