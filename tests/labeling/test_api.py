"""The JSON API: next pair, comparisons (validation, idempotency, expiry), skip, heartbeat."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.models import Assignment, Comparison, Completion, Pair, utcnow
from app.projects.service import add_member
from tests.conftest import login
from tests.factories import make_pair, make_pairs, make_project


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Comparison))


def _next(client, csrf, **params):
    r = client.get("/api/v1/pairs/next", params=params, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    return r.json()


def _post(client, csrf, body):
    return client.post("/api/v1/comparisons", json=body, headers={"X-CSRF-Token": csrf})


def test_next_pair_mirrors_the_page(client, db, project, logged_in) -> None:
    pair = make_pair(db, project, text_a="alpha", text_b="beta")
    db.commit()
    _, csrf = logged_in("evaluator")
    body = _next(client, csrf)["pair"]
    assert body["pair_id"] == pair.id and body["project_id"] == project.id
    assert {body["left"], body["right"]} == {"alpha", "beta"}
    assert body["idempotency_key"] and body["expires_at"]
    assert _next(client, csrf)["pair"]["assignment_id"] == body["assignment_id"]
    assert body["left_cut_off"] is False and body["right_cut_off"] is False


def test_next_pair_says_which_response_was_cut_off(client, db, project, logged_in) -> None:
    pair = make_pair(db, project, text_a="This is because of", text_b="Done.")
    db.get(Completion, pair.completion_a_id).finish_reason = "length"
    db.get(Completion, pair.completion_b_id).finish_reason = "stop"
    db.commit()
    _, csrf = logged_in("evaluator")
    body = _next(client, csrf)["pair"]
    cut = "left" if body["left"] == "This is because of" else "right"
    whole = "right" if cut == "left" else "left"
    assert body[f"{cut}_cut_off"] is True and body[f"{whole}_cut_off"] is False


def test_empty_queue_says_so(client, db, project, logged_in) -> None:
    _, csrf = logged_in("evaluator")
    body = _next(client, csrf)
    assert body["pair"] is None and "No pairs" in body["message"]


def test_submit_and_retry_store_one(client, db, project, logged_in) -> None:
    pair = make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    nxt = _next(client, csrf)["pair"]
    body = {
        "assignment_id": nxt["assignment_id"],
        "choice": "left",
        "strength": "clear",
        "idempotency_key": nxt["idempotency_key"],
        "rationale": "shorter",
    }
    first = _post(client, csrf, body)
    assert first.status_code == 201, first.text
    retry = _post(client, csrf, body)
    assert retry.status_code == 200 and retry.json()["replayed"] is True
    assert retry.json()["id"] == first.json()["id"]
    assert _count(db) == 1
    stored = db.scalar(select(Comparison))
    left_is_a = db.get(Assignment, nxt["assignment_id"]).left_side == "a"
    assert stored.choice == ("a" if left_is_a else "b")
    db.refresh(pair)
    assert pair.status == "complete"


def test_validation_messages_name_the_field(client, db, project, logged_in) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    aid = _next(client, csrf)["pair"]["assignment_id"]
    cases = [
        ({"choice": "maybe"}, "choice"),
        ({"choice": "tie", "strength": "much"}, "strength"),
        ({"choice": "left", "strength": "huge"}, "strength"),
        ({"choice": "left", "rationale": "x" * 5001}, "rationale"),
        ({"choice": "left", "flags": ["not a flag"]}, "flags"),
        ({"choice": "left", "decision_ms": -5}, "decision_ms"),
    ]
    for extra, field in cases:
        r = _post(client, csrf, {"assignment_id": aid, **extra})
        assert r.status_code == 422, (extra, r.text)
        detail = r.json()["errors"]
        assert detail[0]["field"] == field and detail[0]["message"], detail
    assert _count(db) == 0
    ok = _post(client, csrf, {"assignment_id": aid, "choice": "left", "rationale": "x" * 5000})
    assert ok.status_code == 201  # strength is optional for a winner (stored as not given)
    assert ok.json()["strength"] is None


def test_someone_elses_assignment_is_404(
    client, db, project, logged_in, make_user, settings
) -> None:
    make_pair(db, project)
    db.commit()
    _, csrf = logged_in("evaluator")
    aid = _next(client, csrf)["pair"]["assignment_id"]
    client.cookies.clear()
    other = make_user("evaluator")
    csrf2 = login(client, other.username)
    assert _post(client, csrf2, {"assignment_id": aid, "choice": "left"}).status_code == 404
    assert (
        client.post(
            f"/api/v1/assignments/{aid}/skip", json={"reason": "x"}, headers={"X-CSRF-Token": csrf2}
        ).status_code
        == 404
    )
    assert _post(client, csrf2, {"assignment_id": 999999, "choice": "left"}).status_code == 404
    assert _count(db) == 0


def test_expired_lease_gives_message_and_next_pair(client, db, project, logged_in) -> None:
    make_pairs(db, project, 2)
    db.commit()
    _, csrf = logged_in("evaluator")
    first = _next(client, csrf)["pair"]
    assignment = db.get(Assignment, first["assignment_id"])
    assignment.expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    r = _post(client, csrf, {"assignment_id": first["assignment_id"], "choice": "left"})
    assert r.status_code == 409
    assert "not saved" in r.json()["detail"]
    following = r.json()["next"]["pair"]
    assert following and following["pair_id"] != first["pair_id"]
    assert _count(db) == 0
    assert sum(p.labels_received for p in db.scalars(select(Pair))) == 0


def test_skip_and_heartbeat(client, db, project, logged_in) -> None:
    make_pairs(db, project, 2)
    db.commit()
    _, csrf = logged_in("evaluator")
    h = {"X-CSRF-Token": csrf}
    first = _next(client, csrf)["pair"]
    beat = client.post(f"/api/v1/assignments/{first['assignment_id']}/heartbeat", headers=h)
    assert beat.status_code == 200 and beat.json()["status"] == "leased"
    blank = client.post(
        f"/api/v1/assignments/{first['assignment_id']}/skip", json={"reason": " "}, headers=h
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    skipped = client.post(
        f"/api/v1/assignments/{first['assignment_id']}/skip", json={"reason": "unclear"}, headers=h
    )
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    assert (
        client.post(
            f"/api/v1/assignments/{first['assignment_id']}/heartbeat", headers=h
        ).status_code
        == 409
    )
    assert _next(client, csrf)["pair"]["pair_id"] != first["pair_id"]


def test_projects_are_visible_only_to_members(client, db, project, logged_in) -> None:
    other = make_project(db)
    make_pair(db, other)
    db.commit()
    user, csrf = logged_in("evaluator")
    r = client.get(
        "/api/v1/pairs/next", params={"project_id": other.id}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 404
    add_member(db, other, user)
    db.commit()
    assert _next(client, csrf, project_id=other.id)["pair"]["project_id"] == other.id


def test_only_evaluators_may_label(client, db, project, logged_in) -> None:
    _, csrf = logged_in("ml")
    assert client.get("/api/v1/pairs/next", headers={"X-CSRF-Token": csrf}).status_code == 403


def test_submit_with_next_returns_the_lease_next_would_have_returned(
    client, db, project, logged_in
) -> None:
    make_pairs(db, project, 2)
    db.commit()
    _, csrf = logged_in("evaluator")
    first = _next(client, csrf)["pair"]
    body = {
        "assignment_id": first["assignment_id"],
        "choice": "left",
        "strength": "clear",
        "idempotency_key": first["idempotency_key"],
    }
    plain = client.post("/api/v1/comparisons", json=body, headers={"X-CSRF-Token": csrf})
    assert plain.status_code == 201 and plain.json()["next"] is None  # opt-in only
    retried = client.post(
        "/api/v1/comparisons", params={"next": "true"}, json=body, headers={"X-CSRF-Token": csrf}
    )
    assert retried.status_code == 200 and retried.json()["replayed"] is True
    handed = retried.json()["next"]["pair"]
    assert handed is not None and handed["pair_id"] != first["pair_id"]
    # The same lease a separate GET gives: nothing new was leased by asking twice.
    assert _next(client, csrf)["pair"]["assignment_id"] == handed["assignment_id"]
    leased = db.scalar(
        select(func.count()).select_from(Assignment).where(Assignment.status == "leased")
    )
    assert leased == 1

    last = {
        "assignment_id": handed["assignment_id"],
        "choice": "right",
        "strength": "slight",
        "idempotency_key": handed["idempotency_key"],
    }
    done = client.post(
        "/api/v1/comparisons", params={"next": "true"}, json=last, headers={"X-CSRF-Token": csrf}
    )
    assert done.status_code == 201
    assert done.json()["next"]["pair"] is None and "No pairs" in done.json()["next"]["message"]


def test_an_evaluator_in_no_project_is_told_there_is_nothing_to_label(
    client, db, project, make_user
) -> None:
    make_pair(db, project)
    db.commit()
    user = make_user("evaluator", member=False)
    csrf = login(client, user.username)
    r = client.get("/api/v1/pairs/next", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert r.json() == {"pair": None, "message": "You are not a member of any project."}
    page = client.get("/label")
    assert page.status_code == 200
    assert client.get(f"/label?project={project.id}").status_code == 404
