"""Bad input on the main write endpoints: a clear 4xx with a message, and nothing stored changes.

Endpoints: submit a comparison (API and form), import prompts, enqueue a training run,
change project settings. Inputs: oversize bodies and fields, wrong content types, invalid
UTF-8, deeply nested JSON, unknown enum values, numbers past the database's range.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.service import create_api_token
from app.body_limit import MAX_BODY_BYTES
from app.models import Comparison, Project, Prompt, TrainingRun
from tests.factories import make_pair

TABLES = (Comparison, Prompt, TrainingRun)


@pytest.fixture
def api(client: TestClient, db: Session, project: Project, make_user) -> dict[str, Any]:
    """One user with every role, by API token, and a pair leased to them."""
    make_pair(db, project)
    user = make_user("evaluator", "admin", "ml")
    secret, _ = create_api_token(db, user, "bad input")
    db.commit()
    client.headers["Authorization"] = f"Bearer {secret}"
    pair = client.get("/api/v1/pairs/next").json()["pair"]
    return {"assignment": pair["assignment_id"], "project": project.id}


def stored(db: Session, project_id: int) -> list[Any]:
    db.expire_all()
    counts = [db.scalar(select(func.count()).select_from(t)) for t in TABLES]
    p = db.get_one(Project, project_id)
    return [*counts, p.name, p.overlap, list(p.flags), p.guidelines, p.guidelines_version]


@pytest.fixture
def unchanged(db: Session, api: dict[str, Any]) -> Iterator[None]:
    before = stored(db, api["project"])
    yield
    assert stored(db, api["project"]) == before, "bad input changed stored data"


def message(r: Any) -> str:
    body = r.json()
    return " ".join([body["detail"], *(d["message"] for d in body.get("errors", []))])


def fields(r: Any) -> set[str]:
    return {d["field"] for d in r.json().get("errors", [])}


def _comparison(api: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {"assignment_id": api["assignment"], "choice": "left", "strength": "clear", **over}


def _project(**over: Any) -> dict[str, Any]:
    return {"name": "renamed", "overlap": 2, **over}


def test_oversize_body_is_refused_before_it_is_read(
    client: TestClient, api: dict[str, Any], unchanged: None
) -> None:
    huge = json.dumps(_comparison(api, rationale="x" * (MAX_BODY_BYTES + 10)))
    r = client.post(
        "/api/v1/comparisons", content=huge, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "larger than" in message(r)


def test_oversize_body_without_a_length_is_refused_as_it_streams(
    client: TestClient, api: dict[str, Any], unchanged: None
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"guidelines": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"y" * 65536
        yield b'"}'

    r = client.put(
        f"/api/v1/projects/{api['project']}/guidelines",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and "larger than" in message(r)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/comparisons", {"rationale": "r" * 20_000}, "rationale"),
        ("PUT", "/api/v1/projects/{project}", {"name": "n" * 101}, "name"),
        ("PUT", "/api/v1/projects/{project}/guidelines", {"guidelines": "g" * 100_001}, ""),
        ("POST", "/api/v1/training-runs", {"recipe": "r" * 101}, "recipe"),
    ],
    ids=["rationale", "project-name", "guidelines", "recipe"],
)
def test_oversize_fields_are_named(
    client: TestClient,
    api: dict[str, Any],
    unchanged: None,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    base: dict[str, Any] = {
        "/api/v1/comparisons": _comparison(api),
        "/api/v1/projects/{project}": _project(),
    }.get(path, {})
    r = client.request(method, path.format(**api), json={**base, **body})
    assert r.status_code == 422, r.text
    assert any(field in f for f in fields(r)) and "at most" in message(r)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/comparisons", {"choice": "maybe"}, "choice"),
        ("/api/v1/comparisons", {"strength": "enormous"}, "strength"),
        ("/api/v1/training-runs", {"kind": "everything"}, "kind"),
        ("/api/v1/training-runs", {"recipe": "no-such-recipe"}, "recipe"),
        ("/api/v1/training-runs", {"overrides": {"policy.lr": {"nested": 1}}}, "overrides"),
    ],
    ids=["choice", "strength", "run-kind", "recipe", "override-shape"],
)
def test_unknown_enum_values_are_named(
    client: TestClient,
    api: dict[str, Any],
    unchanged: None,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    base = _comparison(api) if "comparisons" in path else {}
    r = client.post(path, json={**base, **body})
    assert r.status_code == 422, r.text
    assert any(f.startswith(field) for f in fields(r)), r.text


def test_unknown_form_choice_on_the_labelling_page_is_refused(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    page = client.get("/label")
    assignment = page.text.split('data-assignment="')[1].split('"')[0]
    before = db.scalar(select(func.count()).select_from(Comparison))
    r = client.post(
        "/label/submit",
        data={"assignment_id": assignment, "choice": "maybe", "csrf_token": csrf},
    )
    assert r.status_code == 422 and "choice" in r.text.lower()
    assert db.scalar(select(func.count()).select_from(Comparison)) == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", b"<comparison choice='left'/>"),
        ("text/plain", b"choice=left"),
        ("application/x-www-form-urlencoded", b"choice=left&assignment_id=1"),
    ],
)
def test_wrong_content_type_is_refused(
    client: TestClient, api: dict[str, Any], unchanged: None, content_type: str, body: bytes
) -> None:
    for path in ("/api/v1/comparisons", "/api/v1/training-runs"):
        r = client.post(path, content=body, headers={"Content-Type": content_type})
        assert r.status_code == 422, (path, r.text)
        assert message(r)


def test_prompt_import_needs_a_file_upload(
    client: TestClient, api: dict[str, Any], unchanged: None
) -> None:
    r = client.post("/api/v1/prompts/import", json={"prompt": "hello"})
    assert r.status_code == 422 and "file" in fields(r)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/comparisons"),
        ("PUT", "/api/v1/projects/{project}"),
        ("POST", "/api/v1/training-runs"),
    ],
)
def test_invalid_utf8_and_deep_nesting_are_refused(
    client: TestClient, api: dict[str, Any], unchanged: None, method: str, path: str
) -> None:
    json_type = {"Content-Type": "application/json"}
    invalid = b'{"name": "\xff\xfe", "choice": "\xc3\x28"}'
    deep = b"[" * 100_000 + b"]" * 100_000
    for body in (invalid, deep):
        r = client.request(method, path.format(**api), content=body, headers=json_type)
        assert 400 <= r.status_code < 500, r.text
        assert message(r)
    assert client.get("/api/v1/me").status_code == 200  # the server is still serving


def test_invalid_utf8_in_an_imported_file_stores_nothing(
    client: TestClient, api: dict[str, Any], unchanged: None
) -> None:
    data = b'{"prompt": "fine"}\n{"prompt": "bad \xff byte"}\n'
    r = client.post(
        "/api/v1/prompts/import",
        files={"file": ("p.jsonl", data, "application/jsonl")},
        data={"project": str(api["project"])},
    )
    assert r.status_code == 422 and "line 2" in fields(r) and "UTF-8" in message(r)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/training-runs/99999999999999999999",
        "/api/v1/pairs/next?project_id=9223372036854775808",
        "/api/v1/policy-versions/99999999999999999999/promote",
    ],
)
def test_numbers_past_the_database_range_are_refused(
    client: TestClient, api: dict[str, Any], unchanged: None, path: str
) -> None:
    method = "POST" if path.endswith("promote") else "GET"
    r = client.request(method, path)
    assert r.status_code in (404, 422), r.text
    assert message(r)
