"""Adjudication: the review queue, a reviewer's final label with a note, and that label in
the trainer's snapshot and the TRL export (the one preference builder)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import create_user
from app.domain.preferences import current_watermark
from app.models import Adjudication, AuditEvent, Pair, Project, User
from app.pairs.review import adjudicate, queue_depth, send_to_review
from tests import factories
from tests.conftest import login
from trainer.data import snapshot


@pytest.fixture
def voters(make_user: Callable[..., User]) -> list[User]:
    return [make_user("evaluator") for _ in range(2)]


def split_pair(db: Session, project: Project, voters: list[User], **kw: object) -> Pair:
    prompt = factories.make_prompt(db, project, kw.pop("text", None))  # type: ignore[arg-type]
    pair = factories.make_pair(
        db, project, prompt=prompt, text_a="Paris", text_b="Lyon", labels_required=2, **kw
    )  # type: ignore[arg-type]
    factories.compare(db, pair, voters[0], "a")
    factories.compare(db, pair, voters[1], "b", left="b")
    db.flush()
    return pair


def test_queue_holds_labelled_split_pairs_and_sent_ones(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    done = split_pair(db, project, voters, status="complete")
    waiting = split_pair(db, project, voters, status="open")  # a third label may settle it
    agreed = factories.make_pair(db, project, labels_required=2, status="complete")
    factories.compare(db, agreed, voters[0], "a")
    factories.compare(db, agreed, voters[1], "a")
    admin = voters[0]
    send_to_review(db, agreed, admin.id, "a rationale looks copied")
    db.commit()
    assert queue_depth(db, project.id) == 2
    logged_in("reviewer")
    body = client.get("/api/v1/review/queue").json()
    assert body["depth"] == 2
    assert [i["id"] for i in body["items"]] == [done.id, agreed.id]
    assert waiting.id not in [i["id"] for i in body["items"]]
    page = client.get("/review")
    assert f'id="queue-{done.id}"' in page.text and f'id="queue-{waiting.id}"' not in page.text


def test_reviewer_sets_the_final_label_with_a_note(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pair = split_pair(db, project, voters, status="complete")
    db.commit()
    reviewer, csrf = logged_in("reviewer")
    page = client.get(f"/review/pairs/{pair.id}")
    assert page.status_code == 200 and 'id="votes-side-by-side"' in page.text
    # A note is required; nothing is stored without one.
    r = client.post(
        f"/review/pairs/{pair.id}", data={"csrf_token": csrf, "choice": "a", "note": " "}
    )
    assert r.status_code == 422 and "note" in r.text
    assert db.scalar(select(Adjudication.id)) is None
    r = client.post(
        f"/review/pairs/{pair.id}",
        data={"csrf_token": csrf, "choice": "a", "note": "Lyon is not the capital"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = db.scalar(select(Adjudication).where(Adjudication.pair_id == pair.id))
    assert (row.status, row.choice, row.decided_by_id) == ("decided", "a", reviewer.id)
    assert queue_depth(db, project.id) == 0
    # A second decision replaces the first; the audit log keeps both.
    r = client.put(
        f"/api/v1/pairs/{pair.id}/adjudication",
        json={"choice": "tie", "note": "on reflection both are fine"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and r.json()["choice"] == "tie"
    events = list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "pair.adjudicated")
            .order_by(AuditEvent.id)
        )
    )
    assert [e.details["choice"] for e in events] == ["a", "tie"]
    assert events[1].details["before"]["choice"] == "a" and events[1].actor_id == reviewer.id
    assert client.get("/api/v1/pairs", params={"agreement": "adjudicated"}).status_code == 403
    r = client.put(
        f"/api/v1/pairs/{pair.id}/adjudication",
        json={"choice": "maybe", "note": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "choice"


def test_gold_pairs_are_not_adjudicated(
    client: TestClient, db: Session, project: Project, logged_in
) -> None:
    gold = factories.make_pair(db, project, kind="gold", gold_choice="a")
    db.commit()
    _, csrf = logged_in("admin")
    r = client.put(
        f"/api/v1/pairs/{gold.id}/adjudication",
        json={"choice": "b", "note": "no"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 422 and "gold" in r.json()["detail"]
    assert db.scalar(select(Adjudication.id)) is None


def test_who_may_review(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in, settings
) -> None:
    pair = split_pair(db, project, voters, status="complete")
    db.commit()
    for role in ("evaluator", "ml"):
        _, csrf = logged_in(role)
        assert client.get("/review").status_code == 403
        assert client.get(f"/review/pairs/{pair.id}").status_code == 403
        r = client.post(
            f"/review/pairs/{pair.id}", data={"csrf_token": csrf, "choice": "a", "note": "n"}
        )
        assert r.status_code == 403
        client.post("/logout", data={"csrf_token": csrf})
    outsider = create_user(db, settings, "outside-reviewer", "correct horse battery", {"reviewer"})
    db.commit()
    csrf = login(client, outsider.username)
    assert client.get(f"/review/pairs/{pair.id}").status_code == 404
    r = client.put(
        f"/api/v1/pairs/{pair.id}/adjudication",
        json={"choice": "a", "note": "n"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 404
    client.post("/logout", data={"csrf_token": csrf})
    logged_in("admin")  # admins review too, but only with the CSRF token
    r = client.post(f"/review/pairs/{pair.id}", data={"choice": "a", "note": "n"})
    assert r.status_code == 403
    assert db.scalar(select(Adjudication.id)) is None


def test_dashboard_shows_the_queue_depth(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    split_pair(db, project, voters, status="complete")
    split_pair(db, project, voters, status="complete")
    db.commit()
    logged_in("admin")
    assert client.get("/api/v1/dashboard").json()["review_queue"] == 2
    assert '<strong id="review-queue">2</strong>' in client.get("/admin/dashboard").text


def test_adjudicated_label_reaches_the_trl_export_and_the_training_snapshot(
    client: TestClient, db: Session, project: Project, voters: list[User], logged_in
) -> None:
    pair = split_pair(db, project, voters, status="complete", text="Capital of France?")
    agreed = factories.make_pair(
        db, project, prompt=factories.make_prompt(db, project, "2+2?"), text_a="4", text_b="5"
    )
    factories.compare(db, agreed, voters[0], "a")
    db.commit()

    def exported() -> list[dict]:
        r = client.get("/api/v1/export", params={"format": "trl"})
        assert r.status_code == 200
        return [json.loads(line) for line in r.text.splitlines()]

    def trained() -> list[tuple[str, str, str]]:
        snap = snapshot(
            db,
            project.id,
            current_watermark(db, project.id),
            min_comparisons=1,
            validation_share=0,
        )
        return sorted((str(r.prompt), r.chosen, r.rejected) for r in snap.rows)

    _, csrf = logged_in("admin")
    # Split: neither the export nor the snapshot has a row for it.
    assert [r["prompt"] for r in exported()] == ["2+2?"]
    assert trained() == [("2+2?", "4", "5")]
    r = client.put(
        f"/api/v1/pairs/{pair.id}/adjudication",
        json={"choice": "b", "note": "the reviewer prefers B"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 200
    rows = {r["prompt"]: (r["chosen"], r["rejected"]) for r in exported()}
    assert rows == {"2+2?": ("4", "5"), "Capital of France?": ("Lyon", "Paris")}
    assert trained() == [("2+2?", "4", "5"), ("Capital of France?", "Lyon", "Paris")]
    # The adjudicated label wins over a majority too, and a tie label drops the pair.
    client.put(
        f"/api/v1/pairs/{agreed.id}/adjudication",
        json={"choice": "tie", "note": "equally good"},
        headers={"X-CSRF-Token": csrf},
    )
    assert [r["prompt"] for r in exported()] == ["Capital of France?"]
    assert trained() == [("Capital of France?", "Lyon", "Paris")]


def test_adjudicated_pair_of_tie_votes_still_yields_its_row(
    db: Session, project: Project, voters: list[User]
) -> None:
    pair = factories.make_pair(
        db, project, prompt=factories.make_prompt(db, project, "Pick one"), text_a="x", text_b="y"
    )
    factories.compare(db, pair, voters[0], "tie")
    factories.compare(db, pair, voters[1], "both_bad")
    db.flush()
    snap = lambda: snapshot(  # noqa: E731
        db, project.id, current_watermark(db, project.id), min_comparisons=0, validation_share=0
    )
    assert snap().rows == []
    adjudicate(db, pair, "b", "y answers it", voters[0].id)
    db.flush()
    assert [(r.chosen, r.rejected) for r in snap().rows] == [("y", "x")]
