"""Every API error answers with one body shape: RFC 9457 problem details."""

from __future__ import annotations

from tests.factories import make_pair

PROBLEM = "application/problem+json"


def _is_problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_unauthenticated_not_found_and_invalid_share_one_shape(
    client, db, project, logged_in
) -> None:
    _is_problem(client.get("/api/v1/pairs/next"), 401)
    _, csrf = logged_in("evaluator")
    headers = {"X-CSRF-Token": csrf}
    missing = _is_problem(client.get("/api/v1/pairs/next", params={"project_id": 999999}), 404)
    assert "errors" not in missing
    bad = _is_problem(
        client.post("/api/v1/comparisons", json={"assignment_id": "x"}, headers=headers), 422
    )
    assert {e["field"] for e in bad["errors"]} >= {"assignment_id", "choice"}
    assert "assignment_id" in bad["detail"]  # the sentence names the fields too


def test_a_domain_error_maps_to_its_status_with_its_field(client, db, project, logged_in) -> None:
    pair = make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    headers = {"X-CSRF-Token": csrf}
    lease = client.get("/api/v1/pairs/next", headers=headers).json()["pair"]
    assert lease["pair_id"] == pair.id
    body = {"assignment_id": lease["assignment_id"], "choice": "left", "flags": ["nope"]}
    bad = _is_problem(client.post("/api/v1/comparisons", json=body, headers=headers), 422)
    assert bad["errors"][0]["field"] == "flags"
    gone = {"assignment_id": 10**9, "choice": "left"}
    _is_problem(client.post("/api/v1/comparisons", json=gone, headers=headers), 404)


def test_a_run_request_for_an_unseen_project_names_the_field(client, db, logged_in) -> None:
    _, csrf = logged_in("ml")
    r = client.post(
        "/api/v1/training-runs", json={"project_id": 987654}, headers={"X-CSRF-Token": csrf}
    )
    body = _is_problem(r, 422)
    assert body["errors"][0]["field"] == "project_id"


def test_openapi_declares_the_problem_body(client) -> None:
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    responses = spec["paths"]["/api/v1/pairs/next"]["get"]["responses"]
    assert PROBLEM in responses["404"]["content"]
