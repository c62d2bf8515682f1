"""IDOR sweep: every route that names an object by id, tried with someone else's object.

Generated from the app's routes like tests/security/test_route_matrix.py. Each id-bearing parameter
(path, query or body field) must have an entry in OBJECTS saying which object it names and
whether membership or ownership protects it; a new id parameter without one fails the sweep.

The caller holds every role but admin (admins are deployment-wide by design:
`app.projects.service.visible_projects`). On routes open to one of its roles it must get
404 (or a deliberate 4xx naming no object), on admin-only routes 403; never the object's
secret text, and no stored row may change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.access import ANY_USER, PUBLIC, route_roles
from app.auth.service import create_api_token
from app.main import create_app
from app.models import (
    ROLES,
    ApiToken,
    Assignment,
    Comparison,
    Demonstration,
    PlaygroundMatch,
    PolicyVersion,
    PreferenceImport,
    ProjectMember,
    TrainingRun,
    User,
    UserRole,
)
from app.settings import Settings
from tests.factories import (
    compare,
    lease,
    make_evaluator,
    make_pair,
    make_project,
    make_prompt,
)

SECRET = "zq7-secret-marker"
PROJECT, OWNER = "project", "owner"

# Parameter name → (object of the victim's world it names, what protects it):
# PROJECT: only members of its project may reach it; OWNER: only its owner, even a co-member.
OBJECTS: dict[str, tuple[str, str]] = {
    "project_id": ("project", PROJECT),
    "project": ("project", PROJECT),
    "prompt_id": ("prompt", PROJECT),
    "pair_id": ("pair", PROJECT),
    "assignment_id": ("assignment", OWNER),
    "user_id": ("victim", PROJECT),
    "run_id": ("run", PROJECT),
    "version_id": ("version", PROJECT),
    "token_id": ("token", OWNER),
    "match_id": ("match", OWNER),
    "version_a_id": ("version", PROJECT),
    "version_b_id": ("version", PROJECT),
    "demonstration_id": ("demonstration", PROJECT),
    "batch_id": ("import", PROJECT),
    "comparison_id": ("comparison", OWNER),
}
# Named like ids but naming no object: a prompt's id in the lab's own system is a text filter
# within a project the caller may see.
NOT_IDS = {"external_id"}


def _is_id(name: str) -> bool:
    return name == "project" or (name.endswith("_id") and name not in NOT_IDS)


def _fields(route: APIRoute) -> Iterator[tuple[str, str]]:
    """(where, name) of every parameter of the route, body models opened up."""
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        stack.extend(dep.dependencies)
        yield from (("path", p.name) for p in dep.path_params)
        yield from (("query", p.name) for p in dep.query_params)
        for p in dep.body_params:
            model = p.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                yield from (("json", name) for name in model.model_fields)
            else:
                yield ("form", p.name)


def id_routes() -> list[tuple[str, str, str, str, frozenset[str] | None]]:
    """(method, path, where, param, roles) for every id-bearing parameter of every route."""
    settings = Settings(pairwise_env="test", secret_key="t" * 48, database_url="sqlite://")  # type: ignore[call-arg]
    out = []
    for ctx in iter_route_contexts(create_app(settings).routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        path = ctx.path or route.path
        for method in sorted((ctx.methods or set()) - {"HEAD"}):
            if (path, method) in PUBLIC:  # the invitation token is a capability, not an id
                continue
            seen = set()
            for where, name in _fields(route):
                if (where == "path" or _is_id(name)) and name not in seen:
                    seen.add(name)
                    out.append((method, path, where, name, route_roles(route)))
    return sorted(out)


ID_ROUTES = id_routes()

# What a well-formed request needs besides the id (so the lookup, not validation, refuses).
EXTRA: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/label/submit"): {"choice": "left", "strength": "clear"},
    ("POST", "/label/skip"): {"reason": "unclear"},
    ("POST", "/api/v1/comparisons"): {"choice": "left", "strength": "clear"},
    ("POST", "/api/v1/assignments/{assignment_id}/skip"): {"reason": "unclear"},
    ("POST", "/training/runs"): {"kind": "full", "recipe": "tiny"},
    ("POST", "/api/v1/training-runs"): {"kind": "full", "recipe": "tiny"},
    ("POST", "/api/v1/assignments/{assignment_id}/demonstration"): {"text": "mine"},
    ("POST", "/api/v1/prompts/{prompt_id}/demonstration"): {"text": "mine"},
    ("POST", "/api/v1/demonstrations/{demonstration_id}/review"): {"decision": "accepted"},
    ("POST", "/label/demonstration"): {"text": "mine"},
    ("POST", "/api/v1/rankings"): {"ranking": "1,2"},
    ("POST", "/api/v1/me/comparisons/{comparison_id}/change"): {"choice": "right"},
}
# Routes that may refuse an invisible project as a field error ("No project 7 that you can
# see"): a 422 that, like the 404, says nothing about the project.
FIELD_ERROR = {
    ("POST", "/training/runs"),
    ("POST", "/api/v1/training-runs"),
    ("GET", "/api/v1/training-runs"),
    ("GET", "/api/v1/policy-versions"),
}


def test_every_id_parameter_has_an_object_builder() -> None:
    unknown = [(m, p, n) for m, p, _, n, _ in ID_ROUTES if n not in OBJECTS]
    assert unknown == [], f"id parameters the IDOR sweep cannot build an object for: {unknown}"
    assert len(ID_ROUTES) >= 30


@dataclass
class World:
    ids: dict[str, int]
    rows: list[Any]


@pytest.fixture
def world(db: Session) -> World:
    """Project A with a victim evaluator and one of everything, each carrying SECRET."""
    project = make_project(db, name=f"{SECRET} project", guidelines=f"{SECRET} guidelines")
    victim = make_evaluator(db, project, name=f"victim-{SECRET}")
    _, token = create_api_token(db, victim, f"{SECRET} token")
    prompt = make_prompt(db, project, text=f"{SECRET} prompt")
    pair = make_pair(db, project, prompt=prompt, text_a=f"{SECRET} a", text_b=f"{SECRET} b")
    assignment = lease(db, pair, victim)
    comparison = compare(db, make_pair(db, project, prompt=prompt), victim, "a")
    run = TrainingRun(project_id=project.id, recipe="tiny", status="queued", log=SECRET)
    version = PolicyVersion(
        project_id=project.id,
        number=1,
        checkpoint_uri=f"{SECRET}/v1",
        base_model=SECRET,
        status="candidate",
    )
    db.add_all([run, version])
    db.flush()
    match = PlaygroundMatch(
        project_id=project.id,
        user_id=victim.id,
        source="battle",
        prompt_text=f"{SECRET} playground prompt",
        version_a_id=version.id,
        version_b_id=version.id,
        text_a=f"{SECRET} answer a",
        text_b=f"{SECRET} answer b",
    )
    demonstration = Demonstration(
        project_id=project.id, prompt_id=prompt.id, user_id=victim.id, text=f"{SECRET} answer"
    )
    batch = PreferenceImport(project_id=project.id, source=f"{SECRET} import", rows=1)
    db.add_all([match, demonstration, batch])
    db.commit()
    objects: dict[str, Any] = {
        "project": project,
        "victim": victim,
        "token": token,
        "prompt": prompt,
        "pair": pair,
        "assignment": assignment,
        "run": run,
        "version": version,
        "match": match,
        "demonstration": demonstration,
        "import": batch,
        "comparison": comparison,
    }
    return World({k: v.id for k, v in objects.items()}, list(objects.values()))


def snapshot(db: Session, rows: list[Any]) -> list[Any]:
    db.expire_all()
    state = []
    for row in rows:
        mapper = inspect(type(row))
        state.append({c.key: getattr(row, c.key) for c in mapper.column_attrs})
    for model in (
        Comparison,
        TrainingRun,
        Assignment,
        ProjectMember,
        UserRole,
        ApiToken,
        PlaygroundMatch,
        Demonstration,
        PreferenceImport,
    ):
        state.append(db.scalar(select(func.count()).select_from(model)))
    return state


def attacker_token(db: Session, world: World, scope: str) -> str:
    """A user with every role but admin, in another project; in A too when only ownership guards."""
    user = User(username="intruder", password_hash="!unusable")
    user.role_rows.extend(UserRole(role=r) for r in ROLES if r != "admin")
    db.add(user)
    db.flush()
    db.add(ProjectMember(project_id=make_project(db, name="project B").id, user_id=user.id))
    if scope == OWNER:
        db.add(ProjectMember(project_id=world.ids["project"], user_id=user.id))
    secret, _ = create_api_token(db, user, "intruder")
    db.commit()
    return secret


@pytest.mark.parametrize(
    ("method", "path", "where", "param", "roles"),
    ID_ROUTES,
    ids=[f"{m} {p} {n}" for m, p, _, n, _ in ID_ROUTES],
)
def test_someone_elses_object_is_not_reachable(
    client: TestClient,
    db: Session,
    world: World,
    method: str,
    path: str,
    where: str,
    param: str,
    roles: frozenset[str] | None,
) -> None:
    name, scope = OBJECTS[param]
    secret = attacker_token(db, world, scope)
    admin_only = roles is not None and roles != ANY_USER and not roles - {"admin"}

    url = path
    for p, (obj, _) in OBJECTS.items():
        url = url.replace("{" + p + "}", str(world.ids[obj]))
    value = world.ids[name]
    extra = EXTRA.get((method, path), {})
    kwargs: dict[str, Any] = {}
    if where == "query":
        kwargs["params"] = {param: value}
    elif where == "json":
        kwargs["json"] = {param: value, **extra}
    elif where == "form":
        kwargs["data"] = {param: value, **extra}
    elif method != "GET" and extra:
        kwargs["json"] = extra

    before = snapshot(db, world.rows)
    r = client.request(
        method,
        url,
        headers={"Authorization": f"Bearer {secret}"},
        follow_redirects=False,
        **kwargs,
    )
    if admin_only:
        expected = {403}
    elif (method, path) in FIELD_ERROR:
        expected = {404, 422}
    else:
        expected = {404}
    assert r.status_code in expected, (method, url, r.status_code, r.text[:300])
    assert SECRET not in r.text
    assert snapshot(db, world.rows) == before, "someone else's object changed"


def test_removing_a_member_of_another_project_through_this_one_changes_nothing(
    client: TestClient, db: Session, logged_in, world: World
) -> None:
    """Two ids in one path must belong together: project B's id cannot reach A's member."""
    _, csrf = logged_in("admin")
    other = make_project(db, name="unrelated")
    db.commit()
    r = client.post(
        f"/admin/projects/{other.id}/members/{world.ids['victim']}/remove",
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert r.status_code in (303, 404)
    assert db.get(ProjectMember, (world.ids["project"], world.ids["victim"])) is not None


def test_pair_of_another_project_is_never_leased(
    client: TestClient, db: Session, world: World
) -> None:
    """The next-pair API only hands out pairs of the caller's projects (no id to guess)."""
    secret = attacker_token(db, world, PROJECT)
    r = client.get("/api/v1/pairs/next", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.json()["pair"] is None
    assert SECRET not in r.text
