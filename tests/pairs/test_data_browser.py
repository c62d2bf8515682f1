"""The data browser: pairs with their votes, filtered, sorted and paged; a pair in full;
mark gold, send to adjudication and retire a filtered selection; who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import create_user
from app.labeling import history
from app.labeling.schemas import ChangeIn
from app.models import Adjudication, AuditEvent, Comparison, Completion, Pair, Project, User
from tests import factories
from tests.conftest import login


@pytest.fixture
def voters(make_user: Callable[..., User]) -> list[User]:
    return [make_user("evaluator") for _ in range(3)]


def seed(db: Session, project: Project, voters: list[User]) -> dict[str, Pair]:
    u1, u2, u3 = voters
    old = datetime(2026, 1, 10, tzinfo=UTC)
    pairs = {
        "unanimous": factories.make_pair(
            db,
            project,
            prompt=factories.make_prompt(db, project, "Name a colour"),
            labels_required=2,
            status="complete",
        ),
        "split": factories.make_pair(
            db,
            project,
            prompt=factories.make_prompt(db, project, "Capital of France?"),
            labels_required=2,
            status="complete",
        ),
        "majority": factories.make_pair(
            db,
            project,
            prompt=factories.make_prompt(db, project, "Write a haiku"),
            labels_required=3,
            status="complete",
        ),
        "fresh": factories.make_pair(
            db, project, prompt=factories.make_prompt(db, project, "Unlabelled one")
        ),
        "gold": factories.make_pair(db, project, kind="gold", gold_choice="a"),
    }
    factories.compare(db, pairs["unanimous"], u1, "a", at=old)
    factories.compare(db, pairs["unanimous"], u2, "a", at=old)
    factories.compare(db, pairs["split"], u1, "a", flags=["unsafe"])
    factories.compare(db, pairs["split"], u2, "b", left="b")
    pairs["split"].reward_margin = 0.05
    pairs["majority"].reward_margin = -1.5
    pairs["unanimous"].reward_margin = 2.0
    for user, choice in ((u1, "a"), (u2, "a"), (u3, "b")):
        factories.compare(db, pairs["majority"], user, choice)
    db.flush()
    c = db.scalar(
        select(Comparison).where(
            Comparison.pair_id == pairs["majority"].id, Comparison.user_id == u3.id
        )
    )
    c.rationale = "B is shorter <b>and</b> right"
    db.commit()
    return pairs


def ids(client: TestClient, **params: object) -> list[int]:
    r = client.get("/api/v1/pairs", params=params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def test_filters_pick_the_pairs_they_name(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    logged_in("admin")
    p = {k: v.id for k, v in pairs.items()}
    assert ids(client, agreement="split") == [p["split"]]
    assert ids(client, agreement="unanimous") == [p["unanimous"]]
    assert ids(client, agreement="majority") == [p["majority"]]
    assert ids(client, kind="gold") == [p["gold"]]
    assert ids(client, status="open") == [p["gold"], p["fresh"]]
    assert ids(client, flag="unsafe") == [p["split"]]
    assert ids(client, annotator=voters[2].username) == [p["majority"]]
    assert ids(client, q="france") == [p["split"]]
    assert ids(client, has_rationale="true") == [p["majority"]]
    assert p["majority"] not in ids(client, has_rationale="false")
    assert ids(client, until="2026-02-01") == [p["unanimous"]]
    assert ids(client, since="2026-02-01") == [p["majority"], p["split"]]
    assert ids(client, margin_min=-2, margin_max=1) == [p["majority"], p["split"]]
    assert ids(client, versions=[0]) == sorted(p.values(), reverse=True)
    assert ids(client, versions=[7]) == []
    # Sorted by margin: only scored pairs, in margin order.
    assert ids(client, sort="margin_asc") == [p["majority"], p["split"], p["unanimous"]]
    assert ids(client, sort="margin_desc") == [p["unanimous"], p["split"], p["majority"]]


def test_a_changed_vote_counts_only_as_its_latest_choice(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    split = pairs["split"]
    old = db.scalar(
        select(Comparison).where(Comparison.pair_id == split.id, Comparison.user_id == voters[1].id)
    )
    assert old is not None and old.choice == "b"
    # voters[1] changes their mind within the window: completion a (shown on the right).
    history.change(db, voters[1], old.id, ChangeIn(choice="right"))
    db.commit()
    logged_in("admin")
    assert ids(client, agreement="split") == []
    assert split.id in ids(client, agreement="unanimous")
    votes = client.get(f"/api/v1/pairs/{split.id}").json()
    assert votes["agreement"] == "unanimous"


def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    seed(db, project, voters)
    for i in range(4):
        factories.make_pair(db, project).reward_margin = float(i % 2)  # ties in margin
    db.commit()
    logged_in("ml")
    for sort in ("newest", "oldest", "margin_asc", "margin_desc"):
        everything = ids(client, sort=sort, limit=200)
        seen, after = [], None
        while True:
            r = client.get("/api/v1/pairs", params={"sort": sort, "limit": 2, "after": after})
            body = r.json()
            seen += [i["id"] for i in body["items"]]
            after = body["next"]
            if after is None:
                break
        assert seen == everything, sort


def test_bad_filters_are_named(client: TestClient, logged_in) -> None:
    logged_in("admin")
    r = client.get("/api/v1/pairs", params={"kind": "nonsense"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
    r = client.get("/api/v1/pairs", params={"annotator": "nobody-here"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "annotator"
    r = client.get("/api/v1/pairs", params={"after": "x,y", "sort": "margin_asc"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after"
    r = client.get("/api/v1/pairs", params={"margin_min": 2, "margin_max": 1})
    assert r.status_code == 422 and "margin_min" in r.json()["detail"]


def test_pair_page_shows_everything_escaped(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    majority = pairs["majority"]
    completion = db.get(Completion, majority.completion_a_id)
    completion.text = "<script>alert(1)</script>"
    completion.sampling = {"temperature": 0.7}
    completion.finish_reason = "length"
    db.commit()
    logged_in("admin")
    page = client.get(f"/admin/data/pairs/{majority.id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "B is shorter &lt;b&gt;and&lt;/b&gt; right" in page.text
    assert "cut off at the token limit" in page.text and "temperature = 0.7" in page.text
    assert page.text.count('class="vote"') == 3
    body = client.get(f"/api/v1/pairs/{majority.id}").json()
    assert body["a"]["cut_off"] is True and body["b"]["cut_off"] is None
    assert [v["choice"] for v in body["votes"]] == ["a", "a", "b"]
    assert body["votes"][2]["rationale"] == "B is shorter <b>and</b> right"
    assert body["agreement"] == "majority"


def test_list_page_filters_and_escapes(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    factories.make_pair(
        db, project, prompt=factories.make_prompt(db, project, "<img src=x onerror=alert(1)>")
    )
    db.commit()
    logged_in("admin")
    page = client.get("/admin/data", params={"agreement": "split", "kind": "", "status": ""})
    assert page.status_code == 200
    assert f'id="pair-{pairs["split"].id}"' in page.text
    assert f'id="pair-{pairs["majority"].id}"' not in page.text
    everything = client.get("/admin/data").text
    assert "<img src=x" not in everything and "&lt;img src=x" in everything


def test_admin_marks_gold_and_sends_to_review_from_the_pair_page(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    admin, csrf = logged_in("admin")
    split, fresh = pairs["split"], pairs["fresh"]
    r = client.post(
        f"/admin/data/pairs/{fresh.id}/gold",
        data={"csrf_token": csrf, "answer": "b"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.refresh(fresh)
    assert (fresh.kind, fresh.gold_choice) == ("gold", "b")
    r = client.post(
        f"/admin/data/pairs/{split.id}/review",
        data={"csrf_token": csrf, "reason": "rationales contradict"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = db.scalar(select(Adjudication).where(Adjudication.pair_id == split.id))
    assert (row.status, row.reason, row.requested_by_id) == (
        "pending",
        "rationales contradict",
        admin.id,
    )
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id)))
    assert {"pair.gold", "pair.sent_to_review"} <= actions
    assert (
        "Waiting for a reviewer: rationales contradict"
        in client.get(f"/admin/data/pairs/{split.id}").text
    )


def test_bulk_retire_retires_only_the_filtered_selection(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    extra = [
        factories.make_pair(
            db, project, prompt=factories.make_prompt(db, project, f"France trip {i}")
        )
        for i in range(3)
    ]
    db.commit()
    admin, csrf = logged_in("admin")
    r = client.post(
        "/admin/data/retire",
        data={
            "csrf_token": csrf,
            "q": "france",
            "status": "open",
            "kind": "",
            "project": project.id,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "retired=3" in r.headers["location"]
    for p in extra:
        db.refresh(p)
        assert p.status == "retired"
    for p in pairs.values():
        db.refresh(p)
        assert p.status != "retired"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "pairs.retired"))
    assert event.actor_id == admin.id and event.details["retired"] == 3
    assert event.details["filter"]["q"] == "france"
    assert "Retired 3 pair(s)" in client.get(r.headers["location"]).text
    # The API twin takes the same filter as a body.
    r = client.post(
        "/api/v1/pairs/retire", json={"agreement": "split"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.json() == {"retired": 1}


def test_writes_need_the_csrf_token(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    logged_in("admin")
    fresh = pairs["fresh"]
    for path, data in (
        (f"/admin/data/pairs/{fresh.id}/gold", {"answer": "a"}),
        (f"/admin/data/pairs/{fresh.id}/review", {}),
        ("/admin/data/retire", {"q": ""}),
    ):
        assert client.post(path, data=data).status_code == 403, path
    db.refresh(fresh)
    assert fresh.status == "open" and fresh.kind == "live"
    assert db.scalar(select(Adjudication.id)) is None


def test_ml_staff_read_only_and_evaluators_out(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pairs = seed(db, project, voters)
    _, csrf = logged_in("ml")
    split = pairs["split"]
    listing = client.get("/admin/data")
    assert listing.status_code == 200 and 'id="bulk-retire"' not in listing.text
    page = client.get(f"/admin/data/pairs/{split.id}")
    assert page.status_code == 200
    assert 'id="gold-form"' not in page.text and 'id="review-form"' not in page.text
    headers = {"X-CSRF-Token": csrf}
    assert (
        client.post(
            f"/admin/data/pairs/{split.id}/gold", data={"answer": "a"}, headers=headers
        ).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/pairs/{split.id}/review", json={}, headers=headers).status_code == 403
    )
    assert client.post("/api/v1/pairs/retire", json={}, headers=headers).status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    logged_in("evaluator")
    assert client.get("/admin/data").status_code == 403
    assert client.get(f"/api/v1/pairs/{split.id}").status_code == 403


def test_non_members_get_404(
    client: TestClient, db: Session, project: Project, voters: list[User], settings
) -> None:
    pairs = seed(db, project, voters)
    outsider = create_user(db, settings, "outsider-ml", "correct horse battery", {"ml"})
    db.commit()
    login(client, outsider.username)
    assert client.get(f"/admin/data/pairs/{pairs['split'].id}").status_code == 404
    assert client.get(f"/api/v1/pairs/{pairs['split'].id}").status_code == 404
    assert client.get("/api/v1/pairs", params={"project": project.id}).status_code == 404
    assert client.get("/api/v1/pairs/999999").status_code == 404
